// Command nightlight-lab runs inside the virtual Raspberry Pi of the
// hardware lab (.ci/lab): a QEMU guest whose kernel has a gpio-sim chip with
// the Pi's line names (GPIO5 for the LED, GPIO6 for the ADS1115's
// ALERT/RDY) and no I²C hardware.
//
//	nightlight-lab serve [--socket PATH] [--alert-pull PATH]
//	nightlight-lab ctl [--socket PATH] COMMAND...
//
// serve provides /dev/i2c-1 through CUSE (package hw/lab/i2ccuse), behind
// which an emulated Grove Base Hat (0x04) and an emulated ADS1115 (0x48)
// answer at the register level (grovehatsim, ads1115sim). The ADS1115's
// ALERT/RDY output drives the gpio-sim line given by --alert-pull (its
// sim_gpioN/pull file: pull-down while the chip pulls the line low). It
// takes control commands, one per connection, on a Unix socket: see
// bench.command for the list (light 800, product 0x0007, absent on, ...).
//
// ctl sends one command to a running serve and prints the answer.
//
// The lab's checks are this package's tests, built with go test -c and run
// in the guest with NIGHTLIGHT_LAB=1 (see lab_test.go); elsewhere they skip.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"periph.io/x/conn/v3/gpio"

	"nightlight/hw/ads1115/ads1115sim"
	"nightlight/hw/lab/i2ccuse"
)

const defaultSocket = "/run/nightlight-lab.sock"

func main() {
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("nightlight-lab: ")
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nightlight-lab serve|ctl ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "ctl":
		err = ctl(os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q: use serve or ctl", os.Args[1])
	}
	if err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	socket := fs.String("socket", defaultSocket, "control socket")
	pull := fs.String("alert-pull", "", "sim_gpioN/pull file of the gpio-sim line ALERT/RDY is wired to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	b := newBench()
	srv, err := i2ccuse.Start(1, b)
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.WaitDevice(5 * time.Second); err != nil {
		return err
	}
	if *pull != "" {
		a := startAlertBridge(b.ads.Alert(), *pull)
		defer a.close()
	}
	os.Remove(*socket)
	ln, err := net.Listen("unix", *socket)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer ln.Close()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	log.Printf("serving %s (Grove Base Hat at 0x04, ADS1115 at 0x48); control on %s", srv.Path(), *socket)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		answer(c, b)
	}
}

// answer reads one command from c, carries it out and writes "ok ..." or
// "error ...".
func answer(c net.Conn, b *bench) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	out, err := b.command(strings.TrimSpace(line))
	if err != nil {
		fmt.Fprintf(c, "error %v\n", err)
		return
	}
	log.Printf("%s: %s", strings.TrimSpace(line), out)
	fmt.Fprintf(c, "ok %s\n", out)
}

// control sends one command to the serve at socket and returns its answer.
func control(socket, cmd string) (string, error) {
	c, err := net.DialTimeout("unix", socket, 2*time.Second)
	if err != nil {
		return "", fmt.Errorf("lab control %q: %w (is nightlight-lab serve running?)", cmd, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, cmd); err != nil {
		return "", fmt.Errorf("lab control %q: %w", cmd, err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("lab control %q: no answer: %w", cmd, err)
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "ok "); ok {
		return rest, nil
	}
	return "", fmt.Errorf("lab control %q: %s", cmd, line)
}

func ctl(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	socket := fs.String("socket", defaultSocket, "control socket")
	if err := fs.Parse(args); err != nil {
		return err
	}
	out, err := control(*socket, strings.Join(fs.Args(), " "))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, out)
	return nil
}

// alertBridge copies the emulated ALERT/RDY output to a gpio-sim line: the
// chip pulling the open-drain line low is the line's pull going down. It
// owns one goroutine, ended by close.
type alertBridge struct {
	pin  *ads1115sim.Pin
	stop chan struct{}
	done chan struct{}
}

func startAlertBridge(pin *ads1115sim.Pin, pullFile string) *alertBridge {
	a := &alertBridge{pin: pin, stop: make(chan struct{}), done: make(chan struct{})}
	// The pull-up the board enables on the Pi's side: High while released.
	pin.In(gpio.PullUp, gpio.BothEdges)
	go func() {
		defer close(a.done)
		last := ""
		for {
			select {
			case <-a.stop:
				return
			default:
			}
			set := "pull-up"
			if pin.Read() == gpio.Low {
				set = "pull-down"
			}
			if set != last {
				if err := os.WriteFile(pullFile, []byte(set), 0); err != nil {
					log.Printf("ALERT/RDY: %v", err)
				}
				last = set
			}
			pin.WaitForEdge(time.Second)
		}
	}()
	return a
}

func (a *alertBridge) close() {
	close(a.stop)
	a.pin.Halt()
	select {
	case <-a.done:
	case <-time.After(2 * time.Second):
		log.Print("ALERT/RDY bridge did not stop within 2s")
	}
}
