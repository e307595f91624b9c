package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/internal/testuser"
)

// BenchmarkIntegrationStartup measures, side by side in one run, the cost
// of running `true` isolated: nsrun -- true (as built by go build, and as a
// static CGO_ENABLED=0 build; the static one also as a normal user, rootless,
// and rootless with --as-root), unshare -n true, and the shell sequence
// ip netns add X; ip -n X link set lo up; ip netns exec X true; ip netns del X.
// Each round runs every variant once, in rotating order, so that machine
// noise hits all alike; medians and ratios are reported as metrics:
//
//	go test -run '^$' -bench Startup -benchtime 200x ./cmd/nsrun/
func BenchmarkIntegrationStartup(b *testing.B) {
	testenv.RequirePrivilege(b)
	static := filepath.Join(filepath.Dir(nsrunBin), "nsrun-static")
	build := exec.Command("go", "build", "-o", static, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build static nsrun: %v\n%s", err, out)
	}
	u := testuser.Get(b)
	rootless := testuser.Copy(b, static, u.Dir(b, false))
	asUser := func(args ...string) *exec.Cmd {
		cmd := exec.Command(rootless, args...)
		cmd.Env = []string{"HOME=" + u.Home, "PATH=/usr/local/bin:/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}}
		return cmd
	}
	variants := []struct {
		name string
		cmd  func(i int) *exec.Cmd
	}{
		{"nsrun", func(int) *exec.Cmd { return exec.Command(nsrunBin, "--", "true") }},
		{"nsrun-static", func(int) *exec.Cmd { return exec.Command(static, "--", "true") }},
		{"rootless", func(int) *exec.Cmd { return asUser("--", "true") }},
		{"rootless-as-root", func(int) *exec.Cmd { return asUser("--as-root", "--", "true") }},
		{"unshare", func(int) *exec.Cmd { return exec.Command("unshare", "-n", "true") }},
		{"shell", func(i int) *exec.Cmd {
			x := fmt.Sprintf("nsrun-bench-%d-%d", os.Getpid(), i)
			return exec.Command("sh", "-c", "ip netns add "+x+"; ip -n "+x+" link set lo up; ip netns exec "+x+" true; ip netns del "+x)
		}},
	}
	times := make([][]time.Duration, len(variants))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range variants {
			k := (i + j) % len(variants)
			cmd := variants[k].cmd(i)
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", variants[k].name, err, out)
			}
			times[k] = append(times[k], time.Since(start))
		}
	}
	b.StopTimer()
	med := make(map[string]float64)
	for k, v := range variants {
		med[v.name] = median(times[k])
		b.ReportMetric(med[v.name], v.name+"-ms")
	}
	b.ReportMetric(med["nsrun"]/med["unshare"], "nsrun/unshare")
	b.ReportMetric(med["nsrun-static"]/med["unshare"], "static/unshare")
	b.ReportMetric(med["rootless"]/med["nsrun-static"], "rootless/root")
	b.ReportMetric(med["rootless-as-root"]/med["nsrun-static"], "rootless-as-root/root")
	b.ReportMetric(med["shell"]/med["nsrun"], "shell/nsrun")
	b.ReportMetric(med["shell"]/med["nsrun-static"], "shell/static")
	b.ReportMetric(0, "ns/op")
}

// median returns the median of d in milliseconds.
func median(d []time.Duration) float64 {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[len(s)/2].Microseconds()) / 1000
}
