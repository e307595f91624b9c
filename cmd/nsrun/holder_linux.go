package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/reexec"
	"golang.org/x/sys/unix"
)

// The protocol between a caller and a holder, on a SOCK_SEQPACKET unix
// socket, one JSON message per packet: the caller sends a holdRequest with
// its stdin, stdout and stderr as SCM_RIGHTS, then any number of
// holdSignal; the holder answers one holdReply when the child it ran for
// the request has ended. A caller that goes away kills its child.

// holdRequest asks the holder to run nsrun with Args (exec, down or ls and
// their arguments) in the run, with this environment and directory.
type holdRequest struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
}

// holdSignal passes a signal the caller got on to the child.
type holdSignal struct {
	Signal int `json:"signal"`
}

// holdReply is the child's exit code (128+N if signal N killed it), or why
// there was no child.
type holdReply struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

// heldCommands are what a holder runs for its callers.
var heldCommands = map[string]bool{"exec": true, "down": true, "ls": true}

// maxPacket bounds one message (a request carries the caller's environment).
const maxPacket = 1 << 20

// holder is the root of a rootless run kept up by nsrun up.
type holder struct {
	run  heldRun
	dir  string
	ln   *net.UnixListener
	mu   sync.Mutex
	kids map[*os.Process]bool
	done chan struct{} // closed when a down succeeded
	once sync.Once

	answering sync.WaitGroup // the callers being answered

	teardown func() error // removes the topology
	live     bool         // the topology is open in this process (its relays run here): down is done here
}

// listenHeld makes the socket a holder serves on, in dir.
func listenHeld(path string) (*net.UnixListener, error) {
	_ = os.Remove(path) // a stale one (the caller checked no live run has it)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("listen for nsrun exec and down: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	return ln, nil
}

// serve answers callers until a down succeeds or SIGTERM, SIGINT or SIGHUP
// arrives (then it removes the topology itself), and removes the run's
// files. It returns the holder's exit code.
func (h *holder) serve(teardown func() error) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for {
			c, err := h.ln.AcceptUnix()
			if err != nil {
				return // closed
			}
			h.answering.Add(1)
			go func() {
				defer h.answering.Done()
				h.answer(c)
			}()
		}
	}()
	code := 0
	select {
	case <-h.done:
	case <-sigs:
		if err := teardown(); err != nil {
			code = reexec.CodeFailed
		}
	}
	_ = h.ln.Close()
	_ = h.run.remove(h.dir)
	h.endKids()
	// Every caller gets its answer before the holder ends (the children
	// are ended, so this is quick).
	answered := make(chan struct{})
	go func() { h.answering.Wait(); close(answered) }()
	select {
	case <-answered:
	case <-time.After(5 * time.Second):
	}
	return code
}

// endKids gives the children still running (nsrun exec in a namespace that
// is gone now) a moment to end, then kills them: nothing outlives the run.
func (h *holder) endKids() {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		n := len(h.kids)
		h.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for p := range h.kids {
		_ = p.Kill()
	}
}

// answer runs one caller's request.
func (h *holder) answer(c *net.UnixConn) {
	defer c.Close()
	reply := func(r holdReply) { b, _ := json.Marshal(r); _, _ = c.Write(b) }
	if err := peerIsUs(c); err != nil {
		reply(holdReply{Code: reexec.CodeFailed, Error: err.Error()})
		return
	}
	req, files, err := readRequest(c)
	if err != nil {
		reply(holdReply{Code: reexec.CodeFailed, Error: err.Error()})
		return
	}
	if h.live && req.Args[0] == "down" {
		// The topology is open here, not kept: this process removes it.
		for _, f := range files {
			_ = f.Close()
		}
		rep := holdReply{}
		if err := h.teardown(); err != nil {
			rep = holdReply{Code: reexec.CodeFailed, Error: err.Error()}
		} else {
			_ = h.ln.Close()
			_ = h.run.remove(h.dir)
			defer h.once.Do(func() { close(h.done) })
		}
		reply(rep)
		return
	}
	cmd := &exec.Cmd{
		Path: reexec.Self, Args: append([]string{os.Args[0]}, req.Args...),
		Env: heldEnv(req.Env), Dir: req.Dir,
		Stdin: files[0], Stdout: files[1], Stderr: files[2],
		// A holder that dies takes its children along.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	err = cmd.Start()
	for _, f := range files {
		_ = f.Close()
	}
	if err != nil {
		reply(holdReply{Code: reexec.CodeFailed, Error: fmt.Sprintf("start nsrun %s in the run: %v", req.Args[0], err)})
		return
	}
	h.mu.Lock()
	h.kids[cmd.Process] = true
	h.mu.Unlock()
	ended := make(chan struct{})
	go func() { // the caller's signals; its going away kills the child
		buf := make([]byte, 256)
		for {
			n, err := c.Read(buf)
			if err != nil || n == 0 {
				select {
				case <-ended:
				default:
					_ = cmd.Process.Kill()
				}
				return
			}
			var s holdSignal
			if json.Unmarshal(buf[:n], &s) == nil && s.Signal > 0 {
				_ = cmd.Process.Signal(syscall.Signal(s.Signal))
			}
		}
	}()
	_ = cmd.Wait()
	close(ended)
	h.mu.Lock()
	delete(h.kids, cmd.Process)
	h.mu.Unlock()
	code := cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	if req.Args[0] == "down" && code == 0 {
		// The topology is gone: this run has nothing left to hold. Its
		// files go before the caller hears back, so that a caller that
		// then lists its runs does not see this one; the holder ends
		// after the answer is out (serve waits for it).
		_ = h.ln.Close()
		_ = h.run.remove(h.dir)
		defer h.once.Do(func() { close(h.done) })
	}
	reply(holdReply{Code: code})
}

// heldEnv is a caller's environment for a child of the holder: marked as
// inside the rootless run, without the holder's own variable.
func heldEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, reexec.RootlessEnv+"=") && !strings.HasPrefix(kv, holdEnv+"=") {
			out = append(out, kv)
		}
	}
	return append(out, reexec.RootlessEnv+"=1")
}

// peerIsUs checks that the caller is the user who owns the run: uid 0 of
// the run's user namespace (anyone else shows up as the overflow uid).
// The socket's directory already keeps others out; this is the second lock.
func peerIsUs(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("who is calling: %w", cerr)
	}
	if cred.Uid != 0 {
		return errors.New("this rootless run belongs to another user")
	}
	return nil
}

// readRequest reads a holdRequest and the three stdio files sent with it.
func readRequest(c *net.UnixConn) (holdRequest, []*os.File, error) {
	var req holdRequest
	buf := make([]byte, maxPacket)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return req, nil, fmt.Errorf("read request: %w", err)
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if r, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, r...)
			}
		}
	}
	files := make([]*os.File, 0, len(fds))
	for _, fd := range fds {
		files = append(files, os.NewFile(uintptr(fd), "caller"))
	}
	fail := func(err error) (holdRequest, []*os.File, error) {
		for _, f := range files {
			_ = f.Close()
		}
		return req, nil, err
	}
	if len(files) != 3 {
		return fail(fmt.Errorf("bad request: %d files, want stdin, stdout and stderr", len(files)))
	}
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		return fail(fmt.Errorf("bad request: %w", err))
	}
	if len(req.Args) == 0 || !heldCommands[req.Args[0]] {
		return fail(fmt.Errorf("bad request: a rootless run serves nsrun exec, down and ls, not %q", req.Args))
	}
	return req, files, nil
}

// callHeld runs nsrun with args inside the rootless run r (in dir), with
// our stdio, environment and working directory, passing our signals on,
// and returns its exit code.
func (a *app) callHeld(dir string, r heldRun, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: r.sock(dir), Net: "unixpacket"})
	if err != nil {
		return reexec.CodeFailed, fmt.Errorf("reach the rootless run %s (holder pid %d): %w", r.Name, r.PID, err)
	}
	defer c.Close()
	files, wait, err := stdioFiles(stdin, stdout, stderr)
	if err != nil {
		return reexec.CodeFailed, err
	}
	wd, _ := os.Getwd()
	b, err := json.Marshal(holdRequest{Args: args, Env: os.Environ(), Dir: wd})
	if err != nil {
		return reexec.CodeFailed, err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	_, _, err = c.WriteMsgUnix(b, unix.UnixRights(fds...), nil)
	wait(true) // our copies of pipe ends go; the copying goes on
	if err != nil {
		return reexec.CodeFailed, fmt.Errorf("send to the rootless run %s: %w", r.Name, err)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, reexec.Forwarded()...)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			b, _ := json.Marshal(holdSignal{Signal: int(sig.(syscall.Signal))})
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	wait(false)
	var rep holdReply
	if err != nil || n == 0 || json.Unmarshal(buf[:n], &rep) != nil {
		return reexec.CodeFailed, fmt.Errorf("the rootless run %s (holder pid %d) ended before answering", r.Name, r.PID)
	}
	if rep.Error != "" {
		return rep.Code, errors.New(rep.Error)
	}
	return rep.Code, nil
}

// stdioFiles returns stdin, stdout and stderr as files to pass on: the
// files themselves, or pipes copied to and from them. wait(true) closes our
// copies of the pipe ends the other side uses; wait(false) waits until the
// output is copied.
func stdioFiles(stdin io.Reader, stdout, stderr io.Writer) ([]*os.File, func(bool), error) {
	var theirs []*os.File
	var copies sync.WaitGroup
	files := make([]*os.File, 3)
	for i, s := range []any{stdin, stdout, stderr} {
		if f, ok := s.(*os.File); ok && f != nil {
			files[i] = f
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			files[i] = r
			theirs = append(theirs, r)
			go func(src io.Reader) {
				if src != nil {
					_, _ = io.Copy(w, src)
				}
				_ = w.Close()
			}(stdin)
			continue
		}
		files[i] = w
		theirs = append(theirs, w)
		dst := s.(io.Writer)
		copies.Add(1)
		go func() {
			defer copies.Done()
			_, _ = io.Copy(dst, r)
			_ = r.Close()
		}()
	}
	wait := func(closeTheirs bool) {
		if closeTheirs {
			for _, f := range theirs {
				_ = f.Close()
			}
			return
		}
		copies.Wait()
	}
	return files, wait, nil
}

// claimHeld claims the name of the topology just built from file in dir
// for the holder being set up, or says which live run has it. The
// claim is the run's record, made with link(2) so that two holders cannot
// both take a name; a record whose holder is dead is replaced.
func claimHeld(dir, name, file string) (*heldRun, error) {
	me, err := procStat(os.Getpid())
	if err != nil {
		return nil, err
	}
	r := &heldRun{Name: name, PID: os.Getpid(), Start: me.start, File: file, Created: time.Now()}
	for try := 0; ; try++ {
		err := r.create(dir)
		if !errors.Is(err, os.ErrExist) || try > 0 {
			return r, err
		}
		b, rerr := os.ReadFile(filepath.Join(dir, name+".json"))
		var old heldRun
		if rerr == nil && json.Unmarshal(b, &old) == nil && old.alive() {
			return nil, fmt.Errorf("topology %s is already up (held by pid %d): nsrun down %s first", name, old.PID, name)
		}
		_ = old.remove(dir) // a dead run's
		_ = os.Remove(filepath.Join(dir, name+".json"))
	}
}

// hold serves as the holder of the kept topology f (see holder): it listens,
// records the run with its namespaces, prints what up prints, and tells the
// nsrun up that started it (fd 3) that the run is up. Then it serves until
// the topology goes down, and returns its exit code.
func (a *app) hold(r *heldRun, dir string, f *fixture.Fixture, env []string, teardown func() error, live bool) int {
	ln, err := listenHeld(r.sock(dir))
	if err == nil {
		r.Namespaces = map[string]string{}
		for _, n := range f.Nodes() {
			ns, _ := f.Namespace(n) // n is one of f's nodes
			r.Namespaces[n] = ns.Name()
		}
		err = r.write(dir)
	}
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		_ = r.remove(dir)
		return a.fail(errors.Join(err, teardown()))
	}
	for _, kv := range env {
		fmt.Fprintln(a.stdout, kv)
	}
	first := r.Namespaces[f.Nodes()[0]]
	if reexec.InRootless() {
		fmt.Fprintf(a.stderr, "nsrun: topology %s is up, rootless (nodes: %s; held by pid %d)\n", r.Name, strings.Join(f.Nodes(), ", "), r.PID)
		fmt.Fprintf(a.stderr, "  enter:  nsrun exec %s -- $SHELL   (each node's namespace is in NSRUN_NS_<NODE>; only nsrun exec reaches them)\n", first)
		fmt.Fprintf(a.stderr, "  remove: nsrun down %s\n", r.Name)
	} else {
		fmt.Fprintf(a.stderr, "nsrun: topology %s is up, its emulated links relayed by pid %d (nodes: %s)\n", r.Name, r.PID, strings.Join(f.Nodes(), ", "))
		fmt.Fprintf(a.stderr, "  enter:  sudo nsrun exec %s -- $SHELL   (each node's namespace is in NSRUN_NS_<NODE>)\n", first)
		fmt.Fprintf(a.stderr, "  remove: sudo nsrun down %s\n", r.Name)
	}
	// Detach: the caller's output ends here, and it hears that we are up.
	if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		_ = unix.Dup2(int(null.Fd()), 1)
		_ = unix.Dup2(int(null.Fd()), 2)
		_ = null.Close()
	}
	ready := os.NewFile(3, "ready")
	_, _ = ready.WriteString("ok\n")
	_ = ready.Close()
	h := &holder{run: *r, dir: dir, ln: ln, kids: map[*os.Process]bool{}, done: make(chan struct{}), teardown: teardown, live: live}
	return h.serve(teardown)
}
