package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Labels of the snapshot commands, as the table shows them.
const (
	labelPipeline     = "pg_dump -Fc -Z0 | zstd -T0 -1 > FILE"
	labelSnapshotJobs = "pgsnap snapshot, SNAPSHOT_DUMP_JOBS=2"
	// noteOneStream marks the SNAPSHOT_DUMP_JOBS row when the manifests have no parts.
	noteOneStream = "one stream: the manifests have no parts (a binary without SNAPSHOT_DUMP_JOBS, or a database with too few tables to split)"
)

// snapshotVariants are the snapshot commands in table (and alternation) order: pgsnap with one
// stream, the C pipeline pgsnap is held to, pg_dump's custom format with and without its
// compression, pgsnap with SNAPSHOT_DUMP_JOBS=2 and pg_dump's directory format with as many
// jobs, and pgsnap with age. The returned snapshotOuts fill in as the pgsnap variants run:
// restores read the plain and the age snapshot.
func (h *harness) snapshotVariants() (vs []*variant, plain, age *snapshotOut) {
	plain, age = &snapshotOut{}, &snapshotOut{}
	vs = []*variant{
		h.pgsnapSnapshot(keySnapshot, "pgsnap snapshot", plain, false, 1),
		h.pipeline(keyPipeline, labelPipeline, "pipeline.dump.zst"),
		h.pgDump(keyDumpZ0, "pg_dump -Fc -Z0 -f FILE", "dump-z0.dump", true, "-Fc", "-Z0"),
		h.pgDump(keyDumpFc, "pg_dump -Fc -f FILE", "dump-fc.dump", true, "-Fc"),
		h.pgsnapSnapshot(keySnapshotJobs, labelSnapshotJobs, nil, false, dumpJobs),
		h.pgDump(keyDumpDir, "pg_dump -Fd -j2 -Z0 -f DIR", "dump-dir", false, "-Fd", "-j", strconv.Itoa(dumpJobs), "-Z0"),
		h.pgsnapSnapshot(keySnapshotAge, "pgsnap snapshot (age)", age, true, 1),
	}
	return vs, plain, age
}

// pgsnapSnapshot runs pgsnap snapshot with SNAPSHOT_DUMP_JOBS=jobs. out, when not nil,
// receives the last run's snapshot for a restore, and the run's output is kept for it.
func (h *harness) pgsnapSnapshot(key, label string, out *snapshotOut, age bool, jobs int) *variant {
	dir := filepath.Join(h.work, key)
	env := h.pgsnapEnv(dir, age, jobs)
	return &variant{
		key:   key,
		label: label,
		keep:  out != nil,
		prepare: func(ctx context.Context) error {
			if out != nil {
				*out = snapshotOut{}
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			return h.checkpoint(ctx)
		},
		run: func(ctx context.Context) (sample, error) {
			m, err := measure(ctx, env, h.work, h.pgsnap, "snapshot")
			if err != nil {
				return sample{}, err
			}
			name := lastLine(m.stdout)
			info, err := checkSnapshot(dir, name, age, m.stderr)
			if err != nil {
				return sample{}, err
			}
			if out != nil {
				*out = snapshotOut{dir: dir, name: name, size: info.size}
			}
			return sample{wall: m.wall, cpu: m.cpu, maxRSS: m.maxRSS, size: info.size, streams: info.streams}, nil
		},
		clean: func() error { return emptyDir(dir) },
	}
}

// manifest is the part of pgsnap's manifest the harness reads.
type manifest struct {
	Data       string `json:"data"`
	Size       int64  `json:"size"`
	Encrypted  bool   `json:"encrypted"`
	Encryption string `json:"encryption"` // "age"; newer manifests only
	// Parts are the pg_dump streams of a snapshot taken with SNAPSHOT_DUMP_JOBS > 1, one each;
	// absent from a one-stream snapshot and from binaries without the setting.
	Parts []manifestPart `json:"parts"`
}

// manifestPart is the part of one stream's entry the harness reads: the data object holding
// it, when it has its own, and that object's size.
type manifestPart struct {
	Data string `json:"data"`
	Size *int64 `json:"size"`
}

// snapshotInfo is what the harness learns of a snapshot from its manifest.
type snapshotInfo struct {
	size    int64 // bytes of every data object the manifest names
	streams int   // pg_dump streams: its parts, 1 without
}

// checkSnapshot reads the manifest of snapshot name and returns the total size of its data
// objects (the top-level one and each part's, each checked against its file and counted once)
// and its number of streams. With age it must be encrypted: an older pgsnap ignores the age
// settings with a warning, and an unencrypted result must not pass as the age run.
func checkSnapshot(dir, name string, age bool, stderr string) (snapshotInfo, error) {
	if name == "" {
		return snapshotInfo{}, errors.New("pgsnap snapshot printed no snapshot name")
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		return snapshotInfo{}, fmt.Errorf("read manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return snapshotInfo{}, fmt.Errorf("parse manifest %s.json: %w", name, err)
	}
	info := snapshotInfo{streams: max(1, len(m.Parts))}
	objects := []manifestPart{}
	if m.Data != "" || len(m.Parts) == 0 {
		objects = append(objects, manifestPart{Data: m.Data, Size: &m.Size})
	}
	for _, p := range m.Parts {
		if p.Data != "" {
			objects = append(objects, p)
		}
	}
	seen := map[string]bool{}
	for _, o := range objects {
		if o.Data == "" || strings.ContainsAny(o.Data, "/\\") {
			return snapshotInfo{}, fmt.Errorf("manifest %s.json names data %q", name, o.Data)
		}
		if seen[o.Data] {
			continue
		}
		seen[o.Data] = true
		size, err := fileSize(filepath.Join(dir, o.Data))
		if err != nil {
			return snapshotInfo{}, fmt.Errorf("data of %s: %w", name, err)
		}
		if o.Size != nil && size != *o.Size {
			return snapshotInfo{}, fmt.Errorf("data %s of %s is %d bytes, manifest says %d", o.Data, name, size, *o.Size)
		}
		info.size += size
	}
	if age && !m.Encrypted && m.Encryption == "" {
		msg := "snapshot is not encrypted: this pgsnap ignored SNAPSHOT_AGE_RECIPIENTS"
		if w := linesContaining(stderr, "SNAPSHOT_AGE"); w != "" {
			msg += " (" + w + ")"
		}
		return snapshotInfo{}, errors.New(msg)
	}
	return info, nil
}

// pgDump runs pg_dump with args to path (a file, or a directory with -Fd). keep leaves the
// last run's output for later steps.
func (h *harness) pgDump(key, label, name string, keep bool, args ...string) *variant {
	path := filepath.Join(h.work, name)
	args = append(args, "-f", path, "-d", h.db)
	env := h.pgEnv()
	bin := filepath.Join(h.cluster.BinDir, "pg_dump")
	return &variant{
		key:   key,
		label: label,
		keep:  keep,
		prepare: func(ctx context.Context) error {
			if err := os.RemoveAll(path); err != nil { // -Fd wants a new directory
				return err
			}
			return h.checkpoint(ctx)
		},
		run: func(ctx context.Context) (sample, error) {
			m, err := measure(ctx, env, h.work, bin, args...)
			if err != nil {
				return sample{}, err
			}
			size, err := treeSize(path)
			if err != nil {
				return sample{}, err
			}
			return sample{wall: m.wall, cpu: m.cpu, maxRSS: m.maxRSS, size: size}, nil
		},
		clean: func() error { return os.RemoveAll(path) },
	}
}

// pipeline runs the C pipeline `pg_dump -Fc -Z0 | zstd -T0 -1 > FILE` as two processes the
// harness pipes together (measurePipeline).
func (h *harness) pipeline(key, label, name string) *variant {
	path := filepath.Join(h.work, name)
	env := h.pgEnv()
	dump := stage{bin: filepath.Join(h.cluster.BinDir, "pg_dump"), args: []string{"-Fc", "-Z0", "-d", h.db}}
	return &variant{
		key:   key,
		label: label,
		prepare: func(ctx context.Context) error {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
			return h.checkpoint(ctx)
		},
		run: func(ctx context.Context) (sample, error) {
			zstd, err := exec.LookPath("zstd")
			if err != nil {
				return sample{}, fmt.Errorf("the C pipeline needs the zstd command: %w", err)
			}
			m, err := measurePipeline(ctx, env, h.work, path, dump, stage{bin: zstd, args: []string{"-T0", "-1", "-q"}})
			if err != nil {
				return sample{}, err
			}
			size, err := fileSize(path)
			if err != nil {
				return sample{}, err
			}
			return sample{wall: m.wall, cpu: m.cpu[0] + m.cpu[1], pipe: []time.Duration{m.cpu[0], m.cpu[1]},
				maxRSS: m.maxRSS, size: size}, nil
		},
		clean: func() error { return os.RemoveAll(path) },
	}
}

// treeSize is the size of a regular file, or the total of the regular files under a directory.
func treeSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if !fi.IsDir() {
		return fileSize(path)
	}
	var total int64
	err = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}
