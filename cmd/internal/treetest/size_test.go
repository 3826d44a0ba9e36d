package treetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// Sizes a newcomer can read in one sitting: no function (or function
// literal) over maxFuncLines, no file over maxFileLines, outside tests and
// generated code. A longer one is split by job, not granted an exception.
const (
	maxFuncLines = 80
	maxFileLines = 500
)

func TestSizes(t *testing.T) {
	root := moduleRoot(t)
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		checkSizes(t, root, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("found %d Go files under %s: is this the module's root?", files, root)
	}
}

func checkSizes(t *testing.T, root, path string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if ast.IsGenerated(f) {
		return
	}
	rel, _ := filepath.Rel(root, path)
	if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
		t.Errorf("%s is %d lines, over %d: split it by job", rel, n, maxFileLines)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		var name string
		var body *ast.BlockStmt
		switch fn := n.(type) {
		case *ast.FuncDecl:
			name, body = fn.Name.Name, fn.Body
		case *ast.FuncLit:
			name, body = "a function literal", fn.Body
		default:
			return true
		}
		if body == nil {
			return true
		}
		start, end := fset.Position(n.Pos()), fset.Position(n.End())
		if lines := end.Line - start.Line + 1; lines > maxFuncLines {
			t.Errorf("%s:%d: %s is %d lines, over %d: split it into steps", rel, start.Line, name, lines, maxFuncLines)
		}
		return true
	})
}

// moduleRoot is the directory of go.mod, two levels above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}
