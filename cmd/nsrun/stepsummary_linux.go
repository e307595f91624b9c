package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/netdump"
)

// GitHub Actions renders the Markdown a step appends to the file named by
// $GITHUB_STEP_SUMMARY on the job's page. When a run fails, nsrun appends
// a section there: the command, how it ended, how long it took, and what
// helps to see why: the topology as a Mermaid diagram (with its state at
// the end of the run), a state dump and where packets were captured.
// Nothing is written for a run that succeeds, and a file that cannot be
// written is worth a warning, never a failed run.

// stepSummaryEnv names the file GitHub Actions renders on the job's page.
const stepSummaryEnv = "GITHUB_STEP_SUMMARY"

// maxDump bounds the state dump in the step summary: GitHub takes at most
// 1 MiB of summary per step, and a step may run nsrun many times (go test
// -exec nsrun runs it once per package).
const maxDump = 64 << 10

// evidence is what a failing run leaves for the step summary beyond the
// --json summary, gathered before teardown. Every part is optional.
type evidence struct {
	diagram string // Mermaid text of the topology, with its live state if it could be read
	dump    string // state of the namespaces as text (internal/netdump)
	capture string // where packets were captured (--capture DIR)
}

// attach adds a state dump (text, such as internal/netdump makes) and the
// directory or file that packets were captured to, for the step summary of
// a failing run. Either may be "": it is then left out. Call it before
// report, and for the dump before teardown.
func (s *summary) attach(dump, capture string) {
	if dump != "" {
		s.evidence.dump = dump
	}
	if capture != "" {
		s.evidence.capture = capture
	}
}

// stepSummaryPath returns the step summary file, "" if there is none: our
// own $GITHUB_STEP_SUMMARY, or, run through sudo (which resets the
// environment), the caller's.
func stepSummaryPath(o *runOpts) string {
	if p := os.Getenv(stepSummaryEnv); p != "" {
		return p
	}
	for _, kv := range o.env {
		if p, ok := strings.CutPrefix(kv, stepSummaryEnv+"="); ok {
			return p
		}
	}
	return ""
}

// gatherEvidence takes what the step summary shows of a failed run that
// only the live session has, before teardown (see failed): the topology's
// diagram with its state at the end, and the state dump of every
// namespace (the one --json took, or a new one).
func (a *app) gatherEvidence(o *runOpts, s *session, sum *summary) {
	if s == nil || stepSummaryPath(o) == "" {
		return
	}
	if s.graph != nil {
		if out, err := s.graph("mermaid"); err == nil {
			sum.evidence.diagram = string(out)
		} else {
			a.logf("step summary: no live diagram: %v", err)
		}
	}
	dumps := sum.FailureState
	if dumps == nil {
		dumps = netdump.GatherAll(labelled(s))
	}
	var text strings.Builder
	for _, d := range dumps {
		_, _ = d.WriteTo(&text)
	}
	sum.attach(text.String(), "")
}

// stepSummary appends the Markdown section of a failed run (code not 0) to
// the step summary file, if there is one. It warns on stderr if it cannot.
func (a *app) stepSummary(o *runOpts, sum *summary, code int) {
	path := stepSummaryPath(o)
	if code == 0 || path == "" {
		return
	}
	r := stepReport{
		command: sum.Command, code: code, status: sum.Status, topology: o.topology,
		duration: time.Since(sum.Started), evidence: sum.evidence,
	}
	if sum.Error != "" {
		r.status = "nsrun: " + sum.Error
	}
	if r.diagram == "" && o.topology != "" { // no live topology: draw the file
		if spec, err := fixture.Load(o.topology); err == nil {
			if out, err := spec.Graph("mermaid"); err == nil {
				r.diagram = string(out)
			}
		}
	}
	if err := appendFile(path, r.markdown()); err != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		fmt.Fprintf(a.stderr, "nsrun: warning: write step summary (%s): %v\n", stepSummaryEnv, err)
	}
}

// stepReport is one failed run, as the step summary shows it.
type stepReport struct {
	command  []string
	code     int
	status   string // "exit status 1", "signal: killed", or nsrun's own error
	duration time.Duration
	topology string // the --topology file, or ""
	evidence
}

// markdown renders the report as a section of GitHub-flavoured Markdown.
func (r stepReport) markdown() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "### nsrun: %s failed\n\n", codeSpan(shellJoin(r.command, 200)))
	fmt.Fprintf(&b, "- **Exit code:** %d", r.code)
	if r.status != "" {
		fmt.Fprintf(&b, " (%s)", codeSpan(r.status))
	}
	fmt.Fprintf(&b, "\n- **Duration:** %s\n", r.duration.Round(time.Millisecond))
	if r.topology != "" {
		fmt.Fprintf(&b, "- **Topology:** %s\n", codeSpan(r.topology))
	}
	if r.capture != "" {
		fmt.Fprintf(&b, "- **Packet capture:** %s\n", codeSpan(r.capture))
	}
	if r.diagram != "" {
		b.WriteString("\n" + fenced("mermaid", r.diagram))
	}
	if r.dump != "" {
		dump := r.dump
		if len(dump) > maxDump {
			dump = strings.ToValidUTF8(dump[:maxDump], "") + fmt.Sprintf("\n[... %d more bytes left out]\n", len(r.dump)-maxDump)
		}
		b.WriteString("\n<details><summary>State dump</summary>\n\n" + fenced("text", dump) + "\n</details>\n")
	}
	b.WriteString("\n")
	return []byte(b.String())
}

// appendFile appends data to path in one write, so that runs appending at
// the same time (go test -exec nsrun runs packages in parallel) do not
// interleave.
func appendFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// longestRun is the length of the longest run of backticks in s.
func longestRun(s string) int {
	n, run := 0, 0
	for _, c := range []byte(s) {
		if c == '`' {
			run++
			n = max(n, run)
		} else {
			run = 0
		}
	}
	return n
}

// codeSpan puts s, on one line, in a Markdown code span that no backtick
// in s can end.
func codeSpan(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	fence := strings.Repeat("`", longestRun(s)+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// fenced puts text in a fenced code block of the given info string, with a
// fence longer than any run of backticks in it.
func fenced(info, text string) string {
	fence := strings.Repeat("`", max(3, longestRun(text)+1))
	return fence + info + "\n" + strings.TrimRight(text, "\n") + "\n" + fence + "\n"
}

// shellJoin writes argv as a shell would need it, each word quoted if it
// must be, cut to about limit bytes.
func shellJoin(argv []string, limit int) string {
	words := make([]string, len(argv))
	for i, w := range argv {
		words[i] = shellQuote(w)
	}
	s := strings.Join(words, " ")
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + " ..."
	}
	return s
}

// shellQuote quotes w for a shell unless it is made of characters that
// need none.
func shellQuote(w string) string {
	plain := w != "" && !strings.ContainsFunc(w, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("_@%+=:,./-", r))
	})
	if plain {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
