package s3test_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/pgsnap/pgsnap/internal/s3test"
)

func TestServerRestartKeepsObjects(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	c := srv.Client(t)
	if _, err := c.PutObject(t.Context(), bucket, "a/b", strings.NewReader("kept"), 4, "", "", minio.PutObjectOptions{}); err != nil {
		t.Fatalf("PutObject() = %v, want nil", err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatalf("Kill() = %v, want nil", err)
	}
	if _, err := c.StatObject(t.Context(), bucket, "a/b", minio.StatObjectOptions{}); err == nil {
		t.Fatalf("StatObject() on a killed server = nil, want error")
	}
	srv.Restart(t)
	if got := get(t, c, bucket, "a/b"); got != "kept" {
		t.Errorf("object after restart = %q, want %q", got, "kept")
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("Stop() = %v, want nil", err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop() = %v, want nil", err)
	}
}

func TestProxyFaults(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	proxy := s3test.NewProxy(t, srv.URL)
	c := srv.ClientAt(t, proxy.Endpoint)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if _, err := c.PutObject(t.Context(), bucket, "obj", bytes.NewReader(data), int64(len(data)), "", "", minio.PutObjectOptions{}); err != nil {
		t.Fatalf("PutObject() through the proxy = %v, want nil", err)
	}
	if got := proxy.Count(http.MethodPut); got != 1 {
		t.Errorf("Count(PUT) = %d, want 1", got)
	}

	proxy.Fail(1, http.StatusForbidden, s3test.ObjectGet)
	_, _, _, err := c.GetObject(t.Context(), bucket, "obj", minio.GetObjectOptions{})
	if er := minio.ToErrorResponse(err); er.StatusCode != http.StatusForbidden || er.Code != "AccessDenied" {
		t.Errorf("GetObject() with a 403 armed = %v, want 403 AccessDenied", err)
	}

	proxy.FlipResponseByte(5, s3test.ObjectGet)
	got := get(t, c, bucket, "obj")
	if len(got) != len(data) || got[5] != data[5]^0xff || got[:5] != string(data[:5]) || got[6:] != string(data[6:]) {
		t.Errorf("GetObject() with a flip armed: want exactly byte 5 inverted")
	}
	if got := get(t, c, bucket, "obj"); got != string(data) {
		t.Errorf("GetObject() after the flip fired: content changed, want the original")
	}

	proxy.Down()
	if _, err := c.StatObject(t.Context(), bucket, "obj", minio.StatObjectOptions{}); err == nil {
		t.Errorf("StatObject() with the proxy down = nil, want error")
	}
	if proxy.Refused() == 0 {
		t.Errorf("Refused() = 0 with the proxy down, want > 0")
	}
	proxy.Up()
	if _, err := c.StatObject(t.Context(), bucket, "obj", minio.StatObjectOptions{}); err != nil {
		t.Errorf("StatObject() with the proxy up = %v, want nil", err)
	}
}

func get(t *testing.T, c *minio.Core, bucket, name string) string {
	t.Helper()
	r, _, _, err := c.GetObject(t.Context(), bucket, name, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("GetObject(%s) = %v, want nil", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}
