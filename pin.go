package pgsnap

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgsnap/pgsnap/store"
)

// pinSuffix ends the key of the marker that pins a snapshot: <name>.pin.
const pinSuffix = ".pin"

// Pin keeps a snapshot whatever the retention policy says, in every destination that holds it,
// until Unpin. The mark is an object beside the snapshot: manifests never change.
func (s *Scheduler) Pin(ctx context.Context, name string) error { return s.setPin(ctx, name, true) }

// Unpin lets retention decide about a pinned snapshot again.
func (s *Scheduler) Unpin(ctx context.Context, name string) error { return s.setPin(ctx, name, false) }

func (s *Scheduler) setPin(ctx context.Context, name string, pinned bool) error {
	if _, err := s.Find(ctx, name); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	for _, d := range s.dests {
		if _, err := d.st.Stat(ctx, manifestKey(name)); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, d.wrap(err))
			}
			continue // not held here
		}
		errs = append(errs, d.wrap(s.setPinIn(ctx, d, name, pinned)))
	}
	return errors.Join(errs...)
}

func (s *Scheduler) setPinIn(ctx context.Context, d *destination, name string, pinned bool) error {
	key := name + pinSuffix
	if !pinned {
		return d.st.Delete(ctx, key)
	}
	w, err := d.st.Create(ctx, key)
	if errors.Is(err, store.ErrExists) {
		return nil // pinned already
	}
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := fmt.Fprintf(w, "pinned at %s\n", s.now().UTC().Format("2006-01-02T15:04:05Z")); err != nil {
		return err
	}
	return w.Commit(ctx)
}
