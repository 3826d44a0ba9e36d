package cli

import (
	"os"
	"runtime"
)

// OneProc runs Go code on one processor (GOMAXPROCS=1) unless the
// environment sets GOMAXPROCS. The daemons wait on I/O nearly all the time;
// with a second processor idle, every goroutine woken (a timer, a packet, a
// channel send) also wakes a second thread to look for work, which on a
// quiet device is a good part of its CPU time. The cost of one processor is
// a system call that outlasts the runtime monitor's tick (an fdatasync): it
// loses the processor to another thread and resets the monitor to polling
// every 20 us. The outbox makes no such call while the broker acknowledges
// readings, so steady light costs none. Replaying the outbox runs as fast on
// one as on two (BenchmarkReplayMosquitto -cpu 1,2).
func OneProc() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
