package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
)

// restoreVariants restore into a fresh, empty database each time: pgsnap's snapshots (plain and
// age), pg_dump -Fc's archive (the goal's reference) and pg_dump -Fc -Z0's. pg_dump writing to
// a file sets the data offsets in the archive's table of contents, so pg_restore -j2 of the
// -Z0 archive is the limit of restoring an uncompressed archive whose offsets are filled in,
// which is what pgsnap's decoded archive becomes once it sets them.
func (h *harness) restoreVariants(plain, age *snapshotOut) []*variant {
	return []*variant{
		h.pgsnapRestore(keyRestore, "pgsnap restore --jobs 2", plain, false),
		h.pgRestore(keyPgRestore, "pg_restore -j2 (pg_dump -Fc file)", filepath.Join(h.work, "dump-fc.dump")),
		h.pgRestore(keyPgRestoreZ0, "pg_restore -j2 (pg_dump -Fc -Z0 file, offsets set)", filepath.Join(h.work, "dump-z0.dump")),
		h.pgsnapRestore(keyRestoreAge, "pgsnap restore --jobs 2 (age)", age, true),
	}
}

// resetTarget drops the restore target and creates it empty, as pg_restore -d needs it.
func (h *harness) resetTarget(ctx context.Context) error {
	if err := h.cluster.DropDatabase(ctx, restoreTargetName); err != nil {
		return err
	}
	if err := h.cluster.CreateDatabase(ctx, restoreTargetName); err != nil {
		return err
	}
	return h.checkpoint(ctx)
}

func (h *harness) dropTarget() error {
	return h.cluster.DropDatabase(context.Background(), restoreTargetName)
}

func (h *harness) pgsnapRestore(key, label string, in *snapshotOut, age bool) *variant {
	return &variant{
		key:   key,
		label: label,
		prepare: func(ctx context.Context) error {
			if in.name == "" {
				return errors.New("no snapshot to restore: its pgsnap snapshot run failed")
			}
			return h.resetTarget(ctx)
		},
		run: func(ctx context.Context) (sample, error) {
			env := h.pgsnapEnv(in.dir, age, 0)
			m, err := measure(ctx, env, h.work, h.pgsnap, "restore", in.name, "--clean", "--jobs", restoreJobs)
			if err != nil {
				return sample{}, err
			}
			return sample{wall: m.wall, cpu: m.cpu, maxRSS: m.maxRSS, size: in.size}, nil
		},
		clean: h.dropTarget,
	}
}

func (h *harness) pgRestore(key, label, path string) *variant {
	env := h.pgEnv()
	bin := filepath.Join(h.cluster.BinDir, "pg_restore")
	var size int64
	return &variant{
		key:   key,
		label: label,
		prepare: func(ctx context.Context) error {
			var err error
			if size, err = fileSize(path); err != nil {
				return fmt.Errorf("no pg_dump archive to restore: %w", err)
			}
			return h.resetTarget(ctx)
		},
		run: func(ctx context.Context) (sample, error) {
			m, err := measure(ctx, env, h.work, bin, "-j", restoreJobs, "-d", restoreTargetName, path)
			if err != nil {
				return sample{}, err
			}
			return sample{wall: m.wall, cpu: m.cpu, maxRSS: m.maxRSS, size: size}, nil
		},
		clean: h.dropTarget,
	}
}
