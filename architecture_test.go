package pgsnap_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The module is cut by job (docs/architecture.md): these limits keep it so. Counted on the
// source with go/ast: methods declared per receiver type, the files they are declared in, the
// root package's lines of non-test Go, and what cmd/pgsnap imports.
const (
	maxMethods         = 30   // per type in the module
	maxMethodFiles     = 5    // files a type outside cmd/ declares methods in
	maxSchedulerMethod = 20   // the Scheduler only decides when
	maxRootLines       = 2500 // non-test Go in the root package: the public API
)

type typeStats struct {
	methods int
	files   map[string]bool
}

func TestArchitectureLimits(t *testing.T) {
	types := map[string]*typeStats{} // "dir.Type"
	rootLines := 0
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata" || path == "examples") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		if dir == "." {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rootLines += strings.Count(string(b), "\n")
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) == 0 {
				continue
			}
			key := dir + "." + receiverName(fn.Recv.List[0].Type)
			if types[key] == nil {
				types[key] = &typeStats{files: map[string]bool{}}
			}
			types[key].methods++
			types[key].files[path] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range types {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		st := types[k]
		if st.methods > maxMethods {
			t.Errorf("%s has %d methods, at most %d", k, st.methods, maxMethods)
		}
		if !strings.HasPrefix(k, "cmd") && len(st.files) > maxMethodFiles {
			t.Errorf("%s declares methods in %d files, at most %d", k, len(st.files), maxMethodFiles)
		}
	}
	if st := types["..Scheduler"]; st == nil || st.methods > maxSchedulerMethod {
		t.Errorf("Scheduler: %v methods, want 1 to %d", st, maxSchedulerMethod)
	}
	if rootLines > maxRootLines {
		t.Errorf("the root package has %d lines of non-test Go, at most %d", rootLines, maxRootLines)
	}
	t.Logf("root package: %d lines; Scheduler: %d methods; most methods: %s; most files outside cmd/: %s",
		rootLines, types["..Scheduler"].methods, most(types), mostFiles(types))
}

// cmd/pgsnap builds every command from the public API: it imports no internal package but the
// terminal-only ones.
func TestCommandUsesPublicAPI(t *testing.T) {
	files, err := filepath.Glob("cmd/pgsnap/*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/pgsnap/pgsnap/internal/") {
				t.Errorf("%s imports %s: commands use the public API", path, p)
			}
		}
	}
}

func receiverName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return receiverName(x.X)
	case *ast.IndexExpr:
		return receiverName(x.X)
	case *ast.IndexListExpr:
		return receiverName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return "?"
}

func most(types map[string]*typeStats) string {
	best, n := "", 0
	for k, st := range types {
		if st.methods > n {
			best, n = k, st.methods
		}
	}
	return best + " " + strconv.Itoa(n)
}

func mostFiles(types map[string]*typeStats) string {
	best, n := "", 0
	for k, st := range types {
		if !strings.HasPrefix(k, "cmd") && len(st.files) > n {
			best, n = k, len(st.files)
		}
	}
	return best + " " + strconv.Itoa(n)
}
