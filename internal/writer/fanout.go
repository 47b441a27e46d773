package writer

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/store"
)

// output is one destination's writer of the snapshot being taken.
type output struct {
	d      *catalog.Destination
	w      store.Writer
	intent bool  // its intent record is committed
	data   bool  // its data object is committed
	err    error // why this destination does not get the snapshot; nil while it is on track
}

func (o *output) fail(err error) {
	if o.err == nil {
		o.err = o.d.Wrap(err)
		if o.w != nil {
			o.w.Abort()
		}
	}
}

// fanout writes one stream to every destination: one dump feeds them all. A destination whose
// write fails drops out (its error kept, its temporary object aborted) and the others go on;
// writing fails only when every destination has failed.
type fanout struct{ outs []*output }

func (f *fanout) Write(p []byte) (int, error) {
	for _, o := range f.outs {
		if o.err != nil {
			continue
		}
		if _, err := o.w.Write(p); err != nil {
			o.fail(err)
		}
	}
	if err := f.err(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// live returns the destinations still on track.
func (f *fanout) live() []*output {
	var out []*output
	for _, o := range f.outs {
		if o.err == nil {
			out = append(out, o)
		}
	}
	return out
}

// err is nil while one destination is on track, else every destination's error.
func (f *fanout) err() error {
	var errs []error
	for _, o := range f.outs {
		if o.err == nil {
			return nil
		}
		errs = append(errs, o.err)
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("every destination failed: %w", errors.Join(errs...))
}

// commit commits the object in every destination on track.
func (f *fanout) commit(ctx context.Context) error {
	for _, o := range f.live() {
		if err := o.w.Commit(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			o.fail(err)
			continue
		}
		o.data = true
	}
	return f.err()
}

// results reports each destination's outcome, for the manifest.
func (f *fanout) results() []catalog.DestinationResult {
	out := make([]catalog.DestinationResult, len(f.outs))
	for i, o := range f.outs {
		out[i] = catalog.DestinationResult{Name: o.d.Name, OK: o.err == nil}
		if o.err != nil {
			out[i].Error = o.err.Error()
		}
	}
	return out
}
