package pgsnap

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgsnap/pgsnap/store"
)

// output is one destination's writer of the snapshot being taken.
type output struct {
	d   *destination
	w   store.Writer
	err error // why this destination does not get the snapshot; nil while it is on track
}

func (o *output) fail(err error) {
	if o.err == nil {
		o.err = o.d.wrap(err)
		if o.w != nil {
			o.w.Abort()
		}
	}
}

// fanout writes one stream to every destination: one dump feeds them all. A destination whose
// write fails drops out (its error kept, its temporary object aborted) and the others go on;
// writing fails only when every destination has failed.
type fanout struct{ outs []*output }

// createOutputs starts an object under key in every destination. A destination that cannot
// start one has failed; it is an error only when all have. ErrExists anywhere is returned as it
// is: the name is taken.
func (s *Scheduler) createOutputs(ctx context.Context, key string) (*fanout, error) {
	f := &fanout{}
	for _, d := range s.dests {
		o := &output{d: d}
		w, err := d.st.Create(ctx, key)
		if errors.Is(err, store.ErrExists) {
			f.abort()
			return nil, d.wrap(err)
		}
		if err != nil {
			o.fail(err)
		}
		o.w = w
		f.outs = append(f.outs, o)
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	return f, nil
}

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
				f.abort()
				return ctx.Err()
			}
			o.fail(err)
		}
	}
	return f.err()
}

// abort throws every temporary object away.
func (f *fanout) abort() {
	for _, o := range f.outs {
		if o.w != nil {
			o.w.Abort()
		}
	}
}

// results reports each destination's outcome, for the manifest.
func (f *fanout) results() []DestinationResult {
	out := make([]DestinationResult, len(f.outs))
	for i, o := range f.outs {
		out[i] = DestinationResult{Name: o.d.name, OK: o.err == nil}
		if o.err != nil {
			out[i].Error = o.err.Error()
		}
	}
	return out
}
