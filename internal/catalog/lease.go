package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/pgsnap/pgsnap/store"
)

const (
	// leaseTTL is how long a lease object counts as live after it was written (by the store's
	// clock: its modification time). Its holder writes a fresh one every leaseRefresh, so a
	// holder that died blocks the deletion of its snapshot for at most leaseTTL, and clocks may
	// be apart by leaseTTL-leaseRefresh before a live lease looks dead.
	leaseTTL     = 5 * time.Minute
	leaseRefresh = time.Minute
)

// Lease is a reader's claim on a snapshot in one destination: while it is held, Prune in any
// process does not delete the snapshot there. Release it when done.
type Lease struct {
	d    *Destination
	name string
	log  *slog.Logger

	mu   sync.Mutex
	key  string // the current lease object
	stop context.CancelFunc
	done chan struct{}
}

// refresh writes a fresh lease object every leaseRefresh until Release.
func (l *Lease) refresh(ctx context.Context, rec []byte) {
	defer close(l.done)
	t := time.NewTicker(leaseRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		key, err := writeLease(ctx, l.d, l.name, rec)
		if err != nil {
			if ctx.Err() == nil {
				l.log.Warn("lease not refreshed; prune may delete the snapshot once the last one is stale", "snapshot", l.name, "destination", l.d.Name, "err", err)
			}
			continue
		}
		l.mu.Lock()
		old := l.key
		l.key = key
		l.mu.Unlock()
		if err := l.d.Store.Delete(ctx, old); err != nil && ctx.Err() == nil {
			l.log.Warn("remove old lease", "object", old, "err", err)
		}
	}
}

// Release ends the lease. It is safe to call more than once.
func (l *Lease) Release() {
	if l == nil || l.stop == nil {
		return
	}
	l.stop()
	<-l.done
	l.stop = nil
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	l.remove(ctx)
}

func (l *Lease) remove(ctx context.Context) {
	l.mu.Lock()
	key := l.key
	l.mu.Unlock()
	if err := l.d.Store.Delete(ctx, key); err != nil {
		l.log.Warn("remove lease; it goes stale on its own", "object", key, "err", err)
	}
}

func writeLease(ctx context.Context, d *Destination, name string, rec []byte) (string, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	key := name + leaseInfix + hex.EncodeToString(id[:])
	return key, commitObject(ctx, d.Store, key, rec)
}

// liveLease reports whether any of leases is live at now.
func liveLease(leases []store.Info, now time.Time) bool {
	for _, in := range leases {
		if now.Sub(in.ModTime) < leaseTTL {
			return true
		}
	}
	return false
}
