// Package s3test runs a real S3-compatible server on loopback for tests: versitygw with its posix
// backend on a temporary directory. A fault-injecting reverse proxy (Proxy) can sit in front of it.
//
// # Finding versitygw
//
// The binary is the first of: the environment variable PGSNAP_VERSITYGW (a path), versitygw on
// PATH, then $(go env GOPATH)/bin/versitygw. Install it with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// When it is missing, Start skips the test, unless the environment variable CI is true: then the
// test fails, so a CI run can never pass by silently skipping its storage tests.
//
// # Credentials
//
// Each server gets a random access key and secret. The secret reaches versitygw through its
// environment, never its argv, and tests can scan logs and errors for it.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// EnvBinary names the environment variable that points at the versitygw binary.
const EnvBinary = "PGSNAP_VERSITYGW"

// Region is the region every Server reports.
const Region = "us-east-1"

// ErrNoVersitygw is wrapped by Binary when no versitygw binary is found.
var ErrNoVersitygw = errors.New("no versitygw binary")

// startTimeout bounds how long a starting server may take to answer.
const startTimeout = 20 * time.Second

// Server is a running versitygw serving plain HTTP on a loopback port.
type Server struct {
	// Endpoint is the server's "127.0.0.1:port", as s3store.Config.Endpoint takes it (with Insecure).
	Endpoint string
	// URL is "http://" + Endpoint.
	URL string
	// AccessKey and SecretKey are the root credentials the server accepts.
	AccessKey, SecretKey string
	// Dir is the posix backend's root: one directory per bucket.
	Dir string

	bin     string
	logPath string
	buckets atomic.Int64

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Binary returns the path of the versitygw binary, searched as the package documents. The error
// wraps ErrNoVersitygw when there is none.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("%s=%s: not an executable file: %w", EnvBinary, p, ErrNoVersitygw)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gopath := ""
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath = strings.TrimSpace(string(out))
	}
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if gopath != "" {
		// GOPATH may be a list; go install puts binaries in the first entry's bin.
		p := filepath.Join(filepath.SplitList(gopath)[0], "bin", "versitygw")
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: set %s, put versitygw on PATH or run "+
		"`go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`", ErrNoVersitygw, EnvBinary)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// inCI reports whether CI is set to a true value.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Start starts a versitygw on a free loopback port with a fresh backend directory, and stops it
// when the test ends. It skips the test when versitygw is missing (fails under CI=true).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if inCI() {
			t.Fatalf("s3test: CI=true and versitygw is required: %v", err)
		}
		t.Skipf("s3test: %v", err)
	}
	dir := t.TempDir()
	s := &Server{
		AccessKey: "pgsnaptest" + randomHex(5),
		SecretKey: "secret-" + randomHex(16),
		Dir:       filepath.Join(dir, "root"),
		bin:       bin,
		logPath:   filepath.Join(dir, "versitygw.log"),
	}
	if err := os.Mkdir(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The port is chosen by binding :0 and releasing it; another process may take it in between,
	// so a failed start is retried on a new port.
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.URL = "http://" + s.Endpoint
		err = s.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("s3test: start versitygw: %v\n%s", err, s.logTail())
		}
	}
	t.Cleanup(func() {
		_ = s.Kill()
		if t.Failed() {
			t.Logf("versitygw log (tail):\n%s", s.logTail())
		}
	})
	return s
}

// start launches versitygw on s.Endpoint and waits until it answers HTTP.
func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "--port", s.Endpoint, "--region", Region, "--quiet", "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a ^C to the test run does not reach it before Cleanup does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return waitReady(s.URL, done)
}

// waitReady polls url until any HTTP answer arrives, the process exits, or startTimeout passes.
func waitReady(url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("versitygw exited while starting")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw not answering on %s after %s: %v", url, startTimeout, err)
		}
	}
}

// Stop ends the server with SIGTERM and waits for it. Stopping a stopped server is a no-op.
func (s *Server) Stop() error { return s.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() error { return s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("versitygw ignored %v for 10s; killed", sig)
	}
}

// Restart starts the server again on the same port and directory, after Stop or Kill (or stops it
// first). Buckets, objects and incomplete multipart uploads survive.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// The old listener's port is free once the process is gone; retry briefly in case the kernel
	// is slow to release it.
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("s3test: restart versitygw on %s: %v\n%s", s.Endpoint, err, s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns a raw client talking to the server directly, for setting up and inspecting
// state independently of the code under test.
func (s *Server) Client(t testing.TB) *minio.Core {
	t.Helper()
	return s.ClientAt(t, s.Endpoint)
}

// ClientAt returns a raw client with the server's credentials talking to endpoint ("host:port",
// plain HTTP), such as a Proxy's. It does not retry, so a fault shows at once.
func (s *Server) ClientAt(t testing.TB, endpoint string) *minio.Core {
	t.Helper()
	c, err := minio.NewCore(endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewBucket creates a bucket with a fresh name and returns the name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("pgsnap-%d-%s", s.buckets.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("s3test: make bucket %s: %v", name, err)
	}
	return name
}

// Uploads lists the incomplete multipart uploads under prefix in bucket, as "key uploadID".
func (s *Server) Uploads(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var out []string
	for u := range s.Client(t).ListIncompleteUploads(t.Context(), bucket, prefix, true) {
		if u.Err != nil {
			t.Fatalf("s3test: list uploads in %s: %v", bucket, u.Err)
		}
		out = append(out, u.Key+" "+u.UploadID)
	}
	return out
}

// logTail returns the end of the server's output.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	const max = 4096
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(bytes.TrimSpace(b))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
