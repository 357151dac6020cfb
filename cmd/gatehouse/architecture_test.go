package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestArchitectureMap holds docs/architecture.md's package map to the
// tree: every directory of the module that holds Go files is a row of the
// map, and every row names such a directory.
func TestArchitectureMap(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := documentedPackages(string(doc))
	actual := goPackages(t, root)
	if !slices.Equal(documented, actual) {
		t.Errorf("docs/architecture.md package map:\n  documented %v\n  in the tree %v", documented, actual)
	}
}

// documentedPackages reads the first column of the map's table rows.
func documentedPackages(doc string) []string {
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_/]+)` \\|")
	var pkgs []string
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		pkgs = append(pkgs, m[1])
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs)
}

// goPackages lists the directories below root holding Go files, as
// slash-separated paths, leaving out testdata, bin and data.
func goPackages(t *testing.T, root string) []string {
	t.Helper()
	var pkgs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (name == "testdata" || name == "bin" || name == "data" || strings.HasPrefix(name, ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			pkgs = append(pkgs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs)
}
