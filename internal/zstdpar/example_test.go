package zstdpar_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/pgsnap/pgsnap/internal/zstdpar"
)

func Example() {
	ctx := context.Background()
	var stored bytes.Buffer // in pgsnap: encryption, hashing and the store
	zw, err := zstdpar.NewWriter(&stored, zstdpar.Options{ChunkSize: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A cancelled snapshot stops the compressors at once; Close still waits for them.
	stop := context.AfterFunc(ctx, func() { zw.Abort(context.Cause(ctx)) })
	defer stop()

	archive := strings.NewReader("PGDMP ... one frame per 16 bytes of archive\n")
	if _, err := io.Copy(zw, archive); err != nil {
		zw.Abort(err)
	}
	if err := zw.Close(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("frames:", zw.Stats().Frames)

	dec, err := zstd.NewReader(&stored)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dec.Close()
	plain, err := io.ReadAll(dec)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(plain))
	// Output:
	// frames: 3
	// PGDMP ... one frame per 16 bytes of archive
}
