package outbox

import (
	"fmt"
	"os"
	"testing"
)

// helperEnv selects a child-process mode when the test binary re-executes
// itself: the crash tests need a process they can SIGKILL, and the write
// failure test a process whose file size limit it can lower.
const helperEnv = "OUTBOX_TEST_HELPER"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
		os.Exit(m.Run())
	case "crash":
		os.Exit(crashChild())
	case "fsize":
		os.Exit(fsizeChild())
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, mode)
		os.Exit(2)
	}
}

// reading is a typical payload for seq, so that tests can check what comes
// back against the seq alone.
func reading(seq uint64) []byte {
	return fmt.Appendf(nil, `{"light":%d,"seq":%d,"ts":"2026-11-25T17:43:18.123Z"}`, seq*37%1001, seq)
}
