package export

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgsnap/pgsnap/internal/archive"
)

// Selection is the part of an archive's table of contents that brings chosen tables back in a
// scratch database: every object definition (so whatever the tables rely on, a type, a
// function, a sequence, a parent table, is there), the chosen tables' data, and no other
// table's. pg_dump of the chosen tables in that scratch database then carries them, with their
// indexes, constraints, owned sequences, triggers, comments and grants, anywhere.
type Selection struct {
	// Tables are the chosen tables, schemas resolved, in TOC order; Data those of them with
	// data of their own (a partitioned table's rows are in its partitions).
	Tables []Name
	Data   []Name
	// IDs are the dump IDs to restore into the scratch database, in TOC order.
	IDs []int
	// LeftOut are the foreign keys between a chosen table and one that is not, as people read
	// them: they are not restored.
	LeftOut []string
}

// skipDescs are entries a scratch database neither needs nor should run: large objects,
// materialized views' data (computed from tables that are empty there), event triggers (they
// would fire on the restore's own DDL), publications and subscriptions.
var skipDescs = map[string]bool{
	"BLOB": true, "BLOBS": true, "BLOB METADATA": true, "LARGE OBJECT": true,
	"MATERIALIZED VIEW DATA": true, "EVENT TRIGGER": true,
	"PUBLICATION": true, "PUBLICATION TABLE": true, "PUBLICATION TABLES IN SCHEMA": true,
	"SUBSCRIPTION": true, "SUBSCRIPTION TABLE": true,
}

// Select chooses the tables named (a Name without schema matches the one table of that name)
// and every table of the schemas named. A name the archive has no table of is returned in
// missing, without error; a schema it has nothing of is an error.
func Select(entries []archive.Entry, tables []Name, schemas []string) (sel Selection, missing []Name, err error) {
	byID := make(map[int]*archive.Entry, len(entries))
	for i := range entries {
		byID[entries[i].DumpID] = &entries[i]
	}
	chosen := map[int]bool{} // TABLE dump IDs
	for _, want := range tables {
		var found []*archive.Entry
		for i, e := range entries {
			if e.Desc == "TABLE" && e.Tag == want.Name && (want.Schema == "" || e.Namespace == want.Schema) {
				found = append(found, &entries[i])
			}
		}
		switch len(found) {
		case 0:
			missing = append(missing, want)
		case 1:
			chosen[found[0].DumpID] = true
		default:
			var names []string
			for _, e := range found {
				names = append(names, Name{Schema: e.Namespace, Name: e.Tag}.String())
			}
			return sel, nil, fmt.Errorf("%w: %s is ambiguous, name its schema: %s", archive.ErrNoTable, want, strings.Join(names, ", "))
		}
	}
	for _, s := range schemas {
		seen := false
		for _, e := range entries {
			if e.Desc == "SCHEMA" && e.Tag == s || e.Namespace == s {
				seen = true
			}
			if e.Desc == "TABLE" && e.Namespace == s {
				chosen[e.DumpID] = true
			}
		}
		if !seen {
			return sel, nil, fmt.Errorf("%w: no schema %s in the snapshot", archive.ErrNoTable, Ident(s))
		}
	}
	if len(missing) > 0 {
		return sel, missing, nil
	}
	names := map[Name]bool{}
	for _, e := range entries {
		if chosen[e.DumpID] {
			n := Name{Schema: e.Namespace, Name: e.Tag}
			sel.Tables = append(sel.Tables, n)
			names[n] = true
		}
	}
	excluded := map[int]bool{}
	skipped := map[int]bool{} // other tables' data: left out, nothing follows from it
	for _, e := range entries {
		switch {
		case e.DatabaseLevel() || skipDescs[e.Desc]:
			excluded[e.DumpID] = true
		case (e.Desc == "COMMENT" || e.Desc == "ACL" || e.Desc == "SECURITY LABEL") && strings.HasPrefix(e.Tag, "LARGE OBJECT "):
			excluded[e.DumpID] = true
		case e.Desc == "TABLE DATA":
			if n := (Name{Schema: e.Namespace, Name: e.Tag}); names[n] {
				sel.Data = append(sel.Data, n)
			} else {
				skipped[e.DumpID] = true
			}
		case e.Desc == "FK CONSTRAINT":
			if keep, note := foreignKey(e, byID, chosen); !keep {
				excluded[e.DumpID] = true
				if note != "" {
					sel.LeftOut = append(sel.LeftOut, note)
				}
			}
		}
	}
	// What depends on a left-out object goes too: a comment on a foreign key, grants on a
	// large object.
	for changed := true; changed; {
		changed = false
		for _, e := range entries {
			if !excluded[e.DumpID] && slices.ContainsFunc(e.Deps, func(id int) bool { return excluded[id] }) {
				excluded[e.DumpID], changed = true, true
			}
		}
	}
	for _, e := range entries {
		if !excluded[e.DumpID] && !skipped[e.DumpID] {
			sel.IDs = append(sel.IDs, e.DumpID)
		}
	}
	return sel, nil, nil
}

// foreignKey decides about an FK CONSTRAINT entry: kept when every table it joins is chosen
// (its dependencies hold its own table and the referenced one). One between a chosen table and
// another is left out with a note; one between two others is left out silently (their tables
// are empty in the scratch database, and pg_dump does not carry it).
func foreignKey(e archive.Entry, byID map[int]*archive.Entry, chosen map[int]bool) (keep bool, note string) {
	var own *archive.Entry
	var others []*archive.Entry
	for _, id := range e.Deps {
		t := byID[id]
		if t == nil || t.Desc != "TABLE" {
			continue
		}
		if t.Namespace == e.Namespace && strings.HasPrefix(e.Tag, t.Tag+" ") && (own == nil || len(t.Tag) > len(own.Tag)) {
			if own != nil {
				others = append(others, own)
			}
			own = t
			continue
		}
		others = append(others, t)
	}
	if own == nil {
		// An archive that does not record the foreign key's tables: left out, and named
		// when its tag says it is a chosen table's.
		for id := range chosen {
			if t := byID[id]; t.Namespace == e.Namespace && strings.HasPrefix(e.Tag, t.Tag+" ") {
				return false, fmt.Sprintf("%s: foreign key %s, whose referenced table the snapshot does not record", Name{Schema: t.Namespace, Name: t.Tag}, Ident(strings.TrimPrefix(e.Tag, t.Tag+" ")))
			}
		}
		return false, ""
	}
	others = slices.DeleteFunc(others, func(t *archive.Entry) bool { return t.DumpID == own.DumpID })
	anyChosen, allChosen := chosen[own.DumpID], chosen[own.DumpID]
	for _, t := range others {
		anyChosen = anyChosen || chosen[t.DumpID]
		allChosen = allChosen && chosen[t.DumpID]
	}
	if allChosen || !anyChosen {
		return allChosen, ""
	}
	constraint := strings.TrimPrefix(e.Tag, own.Tag+" ")
	var refs []string
	for _, t := range others {
		refs = append(refs, Name{Schema: t.Namespace, Name: t.Tag}.String())
	}
	ownName := Name{Schema: own.Namespace, Name: own.Tag}.String()
	if chosen[own.DumpID] {
		return false, fmt.Sprintf("%s: foreign key %s to %s, which is not restored", ownName, Ident(constraint), strings.Join(refs, ", "))
	}
	return false, fmt.Sprintf("%s: foreign key %s from %s, which is not restored", strings.Join(refs, ", "), Ident(constraint), ownName)
}
