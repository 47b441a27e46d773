package pgsnap_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README and the docs name only files the repository has: every relative link, and every
// file named in backquotes with a path and an extension that the repository would hold.
func TestDocsNameOnlyFilesThatExist(t *testing.T) {
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`)
	named := regexp.MustCompile("`((?:[a-z]+/)+[A-Za-z0-9_.-]+\\.(?:md|go|sh|sql|yaml|yml|png|service|timer|json|conf))`")
	for _, doc := range append([]string{"README.md", "bench/README.md", "deploy/README.md"}, docs...) {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			paths = append(paths, filepath.Join(filepath.Dir(doc), m[1]))
		}
		for _, m := range named.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasPrefix(m[1], "usr/") {
				paths = append(paths, m[1])
			}
		}
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s names %s, which the repository does not have", doc, p)
			}
		}
	}
}
