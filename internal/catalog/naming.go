package catalog

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/internal/settings"
)

// The catalog is the only code that knows object names. A snapshot named <target>-<UTC time>
// is the objects:
//
//	<name>.json                  the manifest: the snapshot exists if and only if it does
//	<name>.dump[.zst][.age]      the data object (<name>.sql[.zst][.age] for globals)
//	<name>.part<n>.dump[...]     part n of a snapshot taken over several streams
//	<name>.intent                a writer's intent record: committed before the data object,
//	                             removed after the manifest; proves a leftover data object ours
//	<name>.drill.json            the latest restore drill
//	<name>.check.json            the latest verification
//	<name>.pin                   the snapshot is pinned
//	<name>.lease-<id>            a reader (restore, verify, drill, sync) holds it
const (
	nameTimeLayout = "20060102T150405Z"
	manifestSuffix = ".json"
	dumpSuffix     = ".dump"
	zstdSuffix     = ".zst"
	ageSuffix      = ".age"
	sqlSuffix      = ".sql"
	intentSuffix   = ".intent"
	drillSuffix    = ".drill.json"
	checkSuffix    = ".check.json"
	pinSuffix      = ".pin"
	leaseInfix     = ".lease-"
)

var errNotName = errors.New("not a snapshot name (want <target>-YYYYMMDDTHHMMSSZ)")

// Name is the target name plus the snapshot's UTC time to the second.
func Name(target string, t time.Time) string {
	return target + "-" + t.UTC().Format(nameTimeLayout)
}

// ParseName splits a snapshot name into its target and time.
func ParseName(name string) (target string, t time.Time, err error) {
	i := strings.LastIndexByte(name, '-')
	if i < 1 {
		return "", time.Time{}, errNotName
	}
	target = name[:i]
	if err := settings.ValidTarget(target); err != nil {
		return "", time.Time{}, err
	}
	t, err = time.Parse(nameTimeLayout, name[i+1:])
	if err != nil {
		return "", time.Time{}, errNotName
	}
	return target, t, nil
}

// ManifestKey is the key of a snapshot's manifest.
func ManifestKey(name string) string { return name + manifestSuffix }

// DataKey is the key of a snapshot's data object: <name>.dump[.zst][.age] for a database,
// <name>.sql[.zst][.age] for globals.
func DataKey(name, format, compression string, encrypted bool) string {
	suffix := dumpSuffix
	if format == FormatGlobals {
		suffix = sqlSuffix
	}
	if compression == codec.Zstd {
		suffix += zstdSuffix
	}
	if encrypted {
		suffix += ageSuffix
	}
	return name + suffix
}

// PartKey is the key of part n (from 1) of a snapshot's data: the data object itself for the
// first, <name>.part<n>.dump[.zst][.age] for the others.
func PartKey(name string, n int, format, compression string, encrypted bool) string {
	if n <= 1 {
		return DataKey(name, format, compression, encrypted)
	}
	return DataKey(name+".part"+strconv.Itoa(n), format, compression, encrypted)
}

// nameOfData returns the snapshot name a data object's key (of any part) belongs to.
func nameOfData(key string) (string, bool) {
	key, _ = strings.CutSuffix(key, ageSuffix)
	key, _ = strings.CutSuffix(key, zstdSuffix)
	name, ok := strings.CutSuffix(key, sqlSuffix)
	if !ok {
		name, ok = strings.CutSuffix(key, dumpSuffix)
	}
	if i := strings.LastIndex(name, ".part"); ok && i > 0 {
		if _, err := strconv.Atoi(name[i+len(".part"):]); err == nil {
			name = name[:i]
		}
	}
	return name, ok
}

// ofTarget reports whether key is one of target's snapshot objects: <target>-<time>[.<suffix>].
func ofTarget(key, target string) bool {
	rest, ok := strings.CutPrefix(key, target+"-")
	if !ok || len(rest) < len(nameTimeLayout) {
		return false
	}
	if _, err := time.Parse(nameTimeLayout, rest[:len(nameTimeLayout)]); err != nil {
		return false
	}
	rest = rest[len(nameTimeLayout):]
	return rest == "" || rest[0] == '.'
}
