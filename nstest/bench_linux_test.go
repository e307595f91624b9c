package nstest_test

import (
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"testing"

	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/internal/testuser"
	"github.com/nsrun/nsrun/nstest"
)

// iterTB is b for one iteration: its cleanups run when the iteration ends,
// as a test's run when the test ends.
type iterTB struct {
	testing.TB
	cleanups []func()
}

func (t *iterTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *iterTB) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = t.cleanups[:0]
}

// BenchmarkNew is what a test pays for its own namespace: nstest.New and
// its cleanup. Run by a normal user, it runs rootless (TestMain is
// nstest.Main).
func BenchmarkNew(b *testing.B) {
	testenv.RequirePrivilege(b)
	tb := &iterTB{TB: b}
	for b.Loop() {
		nstest.New(tb)
		tb.done()
	}
}

// BenchmarkIntegrationNewRootless puts BenchmarkNew run by root beside the
// same run by a normal user (rootless through nstest.Main), in alternating
// rounds of one run, and reports the medians and their ratio (the target
// is 1.2x):
//
//	go test -run '^$' -bench NewRootless -benchtime 5x ./nstest
func BenchmarkIntegrationNewRootless(b *testing.B) {
	testenv.RequireRealRoot(b, "run this test binary as another, normal, user")
	u := testuser.Get(b)
	bin := testuser.Copy(b, os.Args[0], u.Dir(b, false))
	args := []string{"-test.run=^$", "-test.bench=^BenchmarkNew$", "-test.benchtime=200x"}
	perOp := regexp.MustCompile(`BenchmarkNew\S*\s+\d+\s+([\d.]+) ns/op`)
	run := func(cmd *exec.Cmd) float64 {
		out, err := cmd.CombinedOutput()
		m := perOp.FindSubmatch(out)
		if err != nil || m == nil {
			b.Fatalf("%v: %v\n%s", cmd.Args, err, out)
		}
		ns, _ := strconv.ParseFloat(string(m[1]), 64)
		return ns / 1e6
	}
	var root, rootless []float64
	for i := 0; i < b.N; i++ {
		root = append(root, run(exec.Command(bin, args...)))
		cmd := exec.Command(bin, args...)
		cmd.Dir = "/"
		cmd.Env = []string{"HOME=" + u.Home, "PATH=/usr/local/bin:/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}}
		rootless = append(rootless, run(cmd))
	}
	r, rl := medianOf(root), medianOf(rootless)
	b.ReportMetric(r, "root-ms")
	b.ReportMetric(rl, "rootless-ms")
	b.ReportMetric(rl/r, "rootless/root")
	b.ReportMetric(0, "ns/op")
}

func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
