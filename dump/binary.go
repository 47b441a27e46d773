package dump

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// binDirSetting is the setting that names the client programs' directory.
const binDirSetting = "SNAPSHOT_PG_BIN_DIR"

// debianRoot holds one bin directory per installed major version (Debian and Ubuntu).
const debianRoot = "/usr/lib/postgresql"

// tools are the client programs Find looks for.
var tools = map[string]bool{"pg_dump": true, "pg_restore": true, "pg_dumpall": true, "psql": true}

// Binary is a PostgreSQL client program and its version.
type Binary struct {
	Tool    string // "pg_dump", "pg_restore", "pg_dumpall" or "psql"
	Path    string
	Version Version
}

// VersionError reports a client program older than the server, which it cannot dump or
// restore reliably.
type VersionError struct {
	Tool, Path string
	Have, Need Version
}

// Error names both versions and the setting that fixes it.
func (e *VersionError) Error() string {
	return fmt.Sprintf("%s %s at %s is older than the server (%s): set %s to the bin directory of PostgreSQL %d or newer client tools",
		e.Tool, e.Have, e.Path, e.Need, binDirSetting, e.Need.Major)
}

// BinaryVersion runs `<path> --version` and parses its output.
func BinaryVersion(ctx context.Context, path string) (Version, error) {
	var out bytes.Buffer
	j := job{tool: filepath.Base(path), path: path, args: []string{"--version"}}
	if _, err := j.run(ctx, &out); err != nil {
		return Version{}, err
	}
	return ParseVersion(out.String())
}

// Find locates tool ("pg_dump", "pg_restore", "pg_dumpall" or "psql") whose major version is
// at least server.Major.
//
// With binDir set (SNAPSHOT_PG_BIN_DIR), only binDir is searched: a missing program is an
// error naming the setting and the path, an older one a *VersionError. Otherwise Find tries
// /usr/lib/postgresql/<server.Major>/bin, then the other /usr/lib/postgresql/*/bin of a newer
// major version (lowest first), then $PATH. When only older programs exist it returns a
// *VersionError; when there is none, an error listing where it looked.
func Find(ctx context.Context, tool string, server Version, binDir string) (Binary, error) {
	return find(ctx, tool, server, binDir, debianRoot, os.Getenv("PATH"))
}

// find is Find with the Debian root and the search path as parameters, for tests.
func find(ctx context.Context, tool string, server Version, binDir, root, pathList string) (Binary, error) {
	if !tools[tool] {
		return Binary{}, fmt.Errorf("find %q: unknown client program: want pg_dump, pg_restore, pg_dumpall or psql", tool)
	}
	if binDir != "" {
		path := filepath.Join(binDir, tool)
		if !isExecutable(path) {
			return Binary{}, fmt.Errorf("%s=%s: no executable %s at %s", binDirSetting, binDir, tool, path)
		}
		b, err := probe(ctx, tool, path)
		if err != nil {
			return Binary{}, fmt.Errorf("%s=%s: %w", binDirSetting, binDir, err)
		}
		if b.Version.Major < server.Major {
			return Binary{}, &VersionError{Tool: tool, Path: path, Have: b.Version, Need: server}
		}
		return b, nil
	}

	newer, older := versionDirs(root, server.Major)
	var candidates []string
	candidates = append(candidates, filepath.Join(root, fmt.Sprint(server.Major), "bin", tool))
	for _, dir := range newer {
		candidates = append(candidates, filepath.Join(dir, tool))
	}
	for _, dir := range filepath.SplitList(pathList) {
		if dir != "" {
			candidates = append(candidates, filepath.Join(dir, tool))
		}
	}
	// Older versions cannot be used, but finding one gives a better error.
	for _, dir := range older {
		candidates = append(candidates, filepath.Join(dir, tool))
	}

	var (
		tooOld  *VersionError
		looked  []string
		failed  []string
		visited = map[string]bool{}
	)
	for _, path := range candidates {
		if visited[path] {
			continue
		}
		visited[path] = true
		if !isExecutable(path) {
			looked = append(looked, path)
			continue
		}
		b, err := probe(ctx, tool, path)
		if err != nil {
			if ctx.Err() != nil {
				return Binary{}, err
			}
			failed = append(failed, err.Error())
			continue
		}
		if b.Version.Major >= server.Major {
			return b, nil
		}
		if tooOld == nil || isNewer(b.Version, tooOld.Have) {
			// The newest of the old ones makes the clearest message.
			tooOld = &VersionError{Tool: tool, Path: path, Have: b.Version, Need: server}
		}
	}
	if tooOld != nil {
		return Binary{}, tooOld
	}
	msg := fmt.Sprintf("find %s for PostgreSQL %d: not found in %s", tool, server.Major, strings.Join(looked, ", "))
	if len(failed) > 0 {
		msg += "; unusable: " + strings.Join(failed, "; ")
	}
	return Binary{}, fmt.Errorf("%s: set %s to the bin directory of PostgreSQL %d or newer client tools", msg, binDirSetting, server.Major)
}

// probe runs the program's --version.
func probe(ctx context.Context, tool, path string) (Binary, error) {
	v, err := BinaryVersion(ctx, path)
	if err != nil {
		return Binary{}, fmt.Errorf("%s: %w", path, err)
	}
	return Binary{Tool: tool, Path: path, Version: v}, nil
}

// versionDirs lists root's <major>/bin directories other than major's own: newer ones lowest
// first, older ones highest first.
func versionDirs(root string, major int) (newer, older []string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, nil
	}
	type dir struct {
		v    Version
		path string
	}
	var dirs []dir
	for _, e := range entries {
		v, err := parseToken(e.Name())
		if err != nil || e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		dirs = append(dirs, dir{v, filepath.Join(root, e.Name(), "bin")})
	}
	sort.Slice(dirs, func(a, b int) bool {
		if dirs[a].v.Major != dirs[b].v.Major {
			return dirs[a].v.Major < dirs[b].v.Major
		}
		return dirs[a].v.Minor < dirs[b].v.Minor
	})
	for _, d := range dirs {
		if d.v.Major > major {
			newer = append(newer, d.path)
		}
	}
	for k := len(dirs) - 1; k >= 0; k-- {
		if dirs[k].v.Major < major {
			older = append(older, dirs[k].path)
		}
	}
	return newer, older
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func isNewer(a, b Version) bool {
	return a.Major > b.Major || a.Major == b.Major && a.Minor > b.Minor
}
