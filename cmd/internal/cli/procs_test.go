package cli

import (
	"runtime"
	"testing"
)

func TestOneProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	t.Setenv("GOMAXPROCS", "2")
	OneProc()
	if n := runtime.GOMAXPROCS(0); n != 2 {
		t.Fatalf("GOMAXPROCS=2 in the environment: %d processors, want 2", n)
	}
	t.Setenv("GOMAXPROCS", "")
	OneProc()
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("no GOMAXPROCS in the environment: %d processors, want 1", n)
	}
}
