package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"filippo.io/age"

	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/store"
)

// copyBuffer is the size of the reads and writes Copy makes.
const copyBuffer = 1 << 20

// maxManifestSize bounds how much of an object named like a manifest or a record is read.
const maxManifestSize = 1 << 20

// listing is what every destination lists.
type listing struct {
	snaps []Snapshot                    // merged by name, newest first
	dests map[*Destination]*destListing // per destination that could be listed
}

// destListing is one destination's objects.
type destListing struct {
	infos   map[string]store.Info   // every committed object, by key
	held    map[string]Snapshot     // the snapshots it holds (of the target asked for)
	leases  map[string][]store.Info // lease objects, by snapshot name
	intents []string                // names with an intent record
}

// listing reads every manifest of every destination; with only set, only that target's.
func (c *Catalog) listing(ctx context.Context, only string) (listing, error) {
	l := listing{dests: map[*Destination]*destListing{}}
	byName := map[string]*Snapshot{}
	var order []string
	var errs []error
	for _, d := range c.dests {
		dl, err := c.listOne(ctx, d, only)
		if err != nil {
			if ctx.Err() != nil {
				return listing{}, ctx.Err()
			}
			errs = append(errs, d.Wrap(err))
			continue
		}
		l.dests[d] = dl
		for _, name := range slices.Sorted(mapsKeys(dl.held)) {
			snap := dl.held[name]
			if m, ok := byName[name]; ok {
				m.StoredIn = append(m.StoredIn, d.Name)
				m.Pinned = m.Pinned || snap.Pinned
				m.PinReason = cmpOr(m.PinReason, snap.PinReason)
				if m.Drill == nil {
					m.Drill = snap.Drill
				}
				if m.Check == nil {
					m.Check = snap.Check
				}
				if m.Damaged != "" && snap.Damaged == "" {
					// A good copy elsewhere: read that one.
					m.Damaged, m.src = "", snap.src
				}
				continue
			}
			snap.StoredIn = []string{d.Name}
			byName[name] = &snap
			order = append(order, name)
		}
	}
	if len(errs) == len(c.dests) {
		return listing{}, errors.Join(errs...)
	}
	for _, err := range errs {
		c.o.Log.Warn("destination not listed; its snapshots count as missing", "err", err)
	}
	for _, name := range order {
		snap := *byName[name]
		for _, d := range c.dests {
			if !slices.Contains(snap.StoredIn, d.Name) {
				snap.Missing = append(snap.Missing, d.Name)
			}
		}
		l.snaps = append(l.snaps, snap)
	}
	sortNewestFirst(l.snaps)
	return l, nil
}

// listOne reads one destination's manifests and the records beside them.
func (c *Catalog) listOne(ctx context.Context, d *Destination, only string) (*destListing, error) {
	infos, err := d.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	dl := &destListing{infos: map[string]store.Info{}, held: map[string]Snapshot{}, leases: map[string][]store.Info{}}
	for _, in := range infos {
		dl.infos[in.Key] = in
		if name, _, ok := strings.Cut(in.Key, leaseInfix); ok {
			dl.leases[name] = append(dl.leases[name], in)
		}
		if name, ok := strings.CutSuffix(in.Key, intentSuffix); ok {
			dl.intents = append(dl.intents, name)
		}
	}
	for _, in := range infos {
		name, ok := strings.CutSuffix(in.Key, manifestSuffix)
		if !ok {
			continue
		}
		if target, _, err := ParseName(name); err != nil || only != "" && target != only {
			continue // not pgsnap's object, or another target's
		}
		snap, err := c.readManifest(ctx, d, in.Key)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.o.Log.Warn("manifest skipped", "destination", d.Name, "object", in.Key, "err", err)
			continue
		}
		if _, ok := dl.infos[name+drillSuffix]; ok {
			snap.Drill = new(Drill)
			if !readRecord(ctx, d, name+drillSuffix, snap.Drill, c.o.Log) {
				snap.Drill = nil
			}
		}
		if _, ok := dl.infos[name+checkSuffix]; ok {
			snap.Check = new(Check)
			if !readRecord(ctx, d, name+checkSuffix, snap.Check, c.o.Log) {
				snap.Check = nil
			}
		}
		if _, ok := dl.infos[name+pinSuffix]; ok {
			snap.Pinned = true
			var p pinRecord
			if readRecord(ctx, d, name+pinSuffix, &p, nil) {
				snap.PinReason = p.Reason
			}
		}
		snap.Damaged = damage(snap, dl.infos)
		dl.held[name] = snap
	}
	return dl, nil
}

// damage says why a listed snapshot cannot be counted on, or returns "": its data object is
// missing or of another size than the manifest's (a listing shows it, nothing is read), or its
// latest verification or drill found it damaged.
func damage(snap Snapshot, infos map[string]store.Info) string {
	for _, o := range snap.Objects() {
		in, ok := infos[o.Data]
		switch {
		case !ok:
			return "data object " + o.Data + " is missing"
		case in.Size != o.Size:
			return fmt.Sprintf("data object %s has %d bytes, the manifest says %d", o.Data, in.Size, o.Size)
		}
	}
	switch {
	case snap.Check != nil && !snap.Check.OK:
		return "verification at " + snap.Check.At.UTC().Format("2006-01-02T15:04:05Z") + " failed: " + snap.Check.Error
	case snap.Drill != nil && !snap.Drill.OK && snap.Drill.Damaged:
		return "drill at " + snap.Drill.At.UTC().Format("2006-01-02T15:04:05Z") + " failed: " + snap.Drill.Error
	}
	return ""
}

func (c *Catalog) readManifest(ctx context.Context, d *Destination, key string) (Snapshot, error) {
	r, err := d.Store.Open(ctx, key)
	if err != nil {
		return Snapshot{}, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return Snapshot{}, fmt.Errorf("read manifest %s: %w", key, err)
	}
	if len(b) > maxManifestSize {
		return Snapshot{}, fmt.Errorf("invalid manifest %s: larger than %d bytes", key, maxManifestSize)
	}
	snap, err := decodeManifest(key, b)
	snap.src = d
	return snap, err
}

func sortNewestFirst(snaps []Snapshot) {
	sort.SliceStable(snaps, func(i, j int) bool {
		ti, tj := snaps[i].Time(), snaps[j].Time()
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return snaps[i].Name > snaps[j].Name
	})
}

// Decode says what a Reader yields.
type Decode int

const (
	// Stored yields the stored bytes as they are.
	Stored Decode = iota
	// Plain yields them decrypted (still compressed).
	Plain
	// Archive yields the decoded archive (what pg_restore reads).
	Archive
)

// Reader reads a snapshot's data object. Verify, after the last Read, compares the stored
// bytes' size and SHA-256 with the manifest.
type Reader struct {
	io.Reader
	snap   Snapshot
	raw    *codec.CheckedReader
	dec    io.Closer // the decompressor, whose goroutines read raw ahead; nil without
	closes []func() error
}

// Open opens snap's data object, decrypting it (SNAPSHOT_AGE_IDENTITY_FILE) and decoding it as
// dec asks. A missing object or a bad age header is a *CorruptError; a missing or wrong identity
// an *codec.IdentityError. Close the Reader.
func (c *Catalog) Open(ctx context.Context, snap Snapshot, dec Decode) (*Reader, error) {
	var ids []age.Identity
	if snap.Encrypted && dec != Stored {
		var err error
		if ids, err = codec.Identities(c.o.IdentityFile, snap.Name, snap.Recipients); err != nil {
			return nil, err
		}
	}
	r, err := c.SourceOf(snap).Store.Open(ctx, snap.Data)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("data object: %v", err)}
	}
	c.o.Progress.Begin("read "+snap.Name, snap.Size)
	raw := codec.NewCheckedReader(progressReader{contextReader{ctx, r}, c.o.Progress})
	out := &Reader{Reader: raw, snap: snap, raw: raw, closes: []func() error{func() error { c.o.Progress.End(); return r.Close() }}}
	if snap.Encrypted && dec != Stored {
		plain, err := codec.Decrypt(raw, ids)
		if err != nil {
			out.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err := codec.IdentityMismatch(c.o.IdentityFile, snap.Name, snap.Recipients, err); errors.As(err, new(*codec.IdentityError)) {
				return nil, err
			}
			return nil, &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("age header: %v", err)}
		}
		out.Reader = plain
	}
	if dec == Archive {
		a, err := codec.Decompress(out.Reader, snap.Compression)
		if err != nil {
			out.Close()
			return nil, err
		}
		out.Reader, out.dec = a, a
	}
	return out, nil
}

// Verify reads what is left of the stored bytes and compares their size and SHA-256 with the
// manifest: a *CorruptError when they differ.
func (r *Reader) Verify() error {
	r.stopDecoder() // its goroutines must not read on while the rest is hashed here
	n, sum, err := r.raw.Finish()
	if err != nil {
		return fmt.Errorf("read snapshot %s: %w", r.snap.Name, err)
	}
	if why := codec.Mismatch(n, sum, r.snap.Size, r.snap.SHA256); why != "" {
		return &CorruptError{Name: r.snap.Name, Reason: why}
	}
	return nil
}

func (r *Reader) stopDecoder() error {
	if r.dec == nil {
		return nil
	}
	err := r.dec.Close()
	r.dec = nil
	return err
}

// Close releases the decoder and the object.
func (r *Reader) Close() error {
	errs := []error{r.stopDecoder()}
	for _, f := range r.closes {
		errs = append(errs, f())
	}
	r.closes = nil
	return errors.Join(errs...)
}

// Copy writes snap's data object, decoded as dec asks, to w, and compares the stored bytes
// with the manifest once all have passed. A decode failure or a mismatch is a *CorruptError (a
// mismatch wins: it is the cause); a failure to write to w is returned as it is.
func (c *Catalog) Copy(ctx context.Context, snap Snapshot, dec Decode, w io.Writer) error {
	r, err := c.Open(ctx, snap, dec)
	if err != nil {
		return err
	}
	defer r.Close()
	// Large reads and writes: a decoded archive is gigabytes, passed in few system calls.
	_, err = io.CopyBuffer(writeTagger{w}, struct{ io.Reader }{r}, make([]byte, copyBuffer))
	if we, ok := errors.AsType[*writeError](err); ok {
		return we.err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if verr := r.Verify(); verr != nil {
		return verr
	}
	if err != nil {
		step := "decrypt"
		if dec == Archive {
			step = "decode " + describeEncoding(snap)
		}
		return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("%s: %v", step, err)}
	}
	return nil
}

func describeEncoding(snap Snapshot) string {
	if snap.Encrypted {
		return snap.Encryption + "+" + snap.Compression
	}
	return snap.Compression
}

// readRecord decodes the JSON record at key into v; a record that cannot be read is logged
// (when log is set) and reported false.
func readRecord(ctx context.Context, d *Destination, key string, v any, log interface{ Warn(string, ...any) }) bool {
	r, err := d.Store.Open(ctx, key)
	if err == nil {
		defer r.Close()
		err = json.NewDecoder(io.LimitReader(r, maxManifestSize)).Decode(v)
	}
	if err != nil && log != nil && !errors.Is(err, store.ErrNotFound) {
		log.Warn("record skipped", "destination", d.Name, "object", key, "err", err)
	}
	return err == nil
}

// Lease claims snap, where it is read from, for purpose ("restore", "verify", ...): it commits
// a lease object, then checks the manifest is still there (Prune removes the manifest before it
// looks at leases a second time, so a reader that finds the manifest after its lease is
// committed is safe). It fails with ErrNotFound when the snapshot is being deleted.
func (c *Catalog) Lease(ctx context.Context, snap Snapshot, purpose string) (*Lease, error) {
	d := c.SourceOf(snap)
	host, _ := os.Hostname()
	rec, err := json.Marshal(leaseRecord{Snapshot: snap.Name, Purpose: purpose, Host: host, PID: os.Getpid(), At: c.o.Now().UTC()})
	if err != nil {
		return nil, err
	}
	l := &Lease{d: d, name: snap.Name, log: c.o.Log, done: make(chan struct{})}
	if l.key, err = writeLease(ctx, d, snap.Name, rec); err != nil {
		return nil, fmt.Errorf("lease snapshot %s for %s: %w", snap.Name, purpose, d.Wrap(err))
	}
	if _, err := d.Store.Stat(ctx, ManifestKey(snap.Name)); err != nil {
		l.remove(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("snapshot %s in %s (deleted meanwhile): %w", snap.Name, d.Name, ErrNotFound)
		}
		return nil, d.Wrap(err)
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop = stop
	go l.refresh(rctx, rec)
	return l, nil
}
