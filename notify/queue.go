package notify

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// queue is a bounded FIFO that drops its oldest item when full, so a producer never waits.
// One consumer takes items with pop and reports each one handled with done.
type queue[T any] struct {
	mu       sync.Mutex
	items    []T
	limit    int
	inflight bool
	wake     chan struct{}   // one pending signal: items may be there
	idle     []chan struct{} // closed when the queue is empty and nothing is in flight
}

func newQueue[T any](limit int) *queue[T] {
	return &queue[T]{limit: limit, wake: make(chan struct{}, 1)}
}

// push appends v; when the queue was full it drops the oldest item and returns it.
func (q *queue[T]) push(v T) (dropped T, full bool) {
	q.mu.Lock()
	if len(q.items) >= q.limit {
		dropped, full = q.items[0], true
		q.items = q.items[1:]
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return dropped, full
}

// pop waits for the oldest item; false when ctx ended first.
func (q *queue[T]) pop(ctx context.Context) (T, bool) {
	var zero T
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			v := q.items[0]
			q.items[0] = zero
			q.items = q.items[1:]
			q.inflight = true
			q.mu.Unlock()
			return v, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return zero, false
		case <-q.wake:
		}
	}
}

// done marks the item from the last pop handled.
func (q *queue[T]) done() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight = false
	if len(q.items) == 0 {
		for _, c := range q.idle {
			close(c)
		}
		q.idle = nil
	}
}

func (q *queue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// flush waits until every queued item has been handled, or ctx ends.
func (q *queue[T]) flush(ctx context.Context) error {
	q.mu.Lock()
	if len(q.items) == 0 && !q.inflight {
		q.mu.Unlock()
		return nil
	}
	c := make(chan struct{})
	q.idle = append(q.idle, c)
	q.mu.Unlock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errRunning is returned by a second concurrent Run.
var errRunning = errors.New("already running")

// worker consumes a queue: one goroutine, the caller of run, handles items in order.
type worker[T any] struct {
	q       *queue[T]
	running atomic.Bool
	handle  func(ctx context.Context, v T)
}

// run handles items until ctx ends. Items still queued then stay queued (a later run
// delivers them); the count is returned for the caller to log.
func (w *worker[T]) run(ctx context.Context) (left int, err error) {
	if !w.running.CompareAndSwap(false, true) {
		return 0, errRunning
	}
	defer w.running.Store(false)
	for {
		v, ok := w.q.pop(ctx)
		if !ok {
			return w.q.len(), nil
		}
		w.handle(ctx, v)
		w.q.done()
	}
}
