package capture_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/capture"
	"github.com/nsrun/nsrun/internal/testenv"
	"golang.org/x/sys/unix"
)

// echoMessages is how many messages one echo run sends.
const echoMessages = 10000

// BenchmarkIntegrationEcho measures what capture costs a test: 10,000
// 64-byte messages echoed over TCP between two nodes linked by a veth pair,
// without capture and with both nodes captured, interleaved in each
// iteration so that the machine's noise hits both. It reports both times,
// their ratio (on/off), the same for the CPU time the process used (less
// noisy on a shared machine), what starting and stopping the capture costs on
// top, the packets captured per run (each is seen leaving one node and
// entering the other), and the goroutines and sockets the capture holds
// while it runs.
func BenchmarkIntegrationEcho(b *testing.B) {
	testenv.RequirePrivilege(b)
	client, server, addr := pair(b)
	ln, err := server.Listen("tcp", net.JoinHostPort(addr, "7"))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() { // the echo server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	conn, err := client.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	// echo returns the wall time of one run, and the CPU time this process
	// spent meanwhile (user and system: the kernel's work for the echo,
	// and for the capture, is done mostly on this process's threads).
	echo := func() (wall, cpu time.Duration) {
		cpu0 := cpuTime(b)
		start := time.Now()
		msg, buf := make([]byte, 64), make([]byte, 64)
		for range echoMessages {
			if _, err := conn.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(conn, buf); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start), cpuTime(b) - cpu0
	}
	echo() // warm up
	var off, on, offCPU, onCPU, startStop time.Duration
	var packets, drops uint64
	var goroutines, socks int
	for b.Loop() {
		wall, cpu := echo()
		off, offCPU = off+wall, offCPU+cpu

		t0 := time.Now()
		c, err := capture.New(capture.Config{})
		if err != nil {
			b.Fatal(err)
		}
		for label, ns := range map[string]*nsrun.Namespace{"client": client, "server": server} {
			if err := c.Add(label, ns.Do); err != nil {
				b.Fatal(err)
			}
		}
		startStop += time.Since(t0)
		goroutines += readers(2)
		socks += packetSockets(b)
		wall, cpu = echo()
		on, onCPU = on+wall, onCPU+cpu
		t0 = time.Now()
		c.Stop()
		startStop += time.Since(t0)
		st := c.Stats()
		packets += st.Packets
		drops += st.AllDropped()
	}
	n := float64(b.N)
	b.ReportMetric(float64(off.Milliseconds())/n, "off-ms/op")
	b.ReportMetric(float64(on.Milliseconds())/n, "on-ms/op")
	b.ReportMetric(float64(on)/float64(off), "on/off")
	b.ReportMetric(float64(offCPU.Milliseconds())/n, "off-cpu-ms/op")
	b.ReportMetric(float64(onCPU.Milliseconds())/n, "on-cpu-ms/op")
	b.ReportMetric(float64(onCPU)/float64(offCPU), "cpu-on/off")
	b.ReportMetric(float64(startStop.Milliseconds())/n, "start+stop-ms/op")
	b.ReportMetric(float64(packets)/n, "packets/op")
	b.ReportMetric(float64(drops)/n, "dropped/op")
	b.ReportMetric(float64(goroutines)/n, "goroutines")
	b.ReportMetric(float64(socks)/n, "packet-sockets")
}

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
