package reexec

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// Exit codes of failures that are not the program's own, as env(1) and
// shells use them.
const (
	CodeFailed        = 125 // nsrun itself failed: the program did not run
	CodeNotExecutable = 126 // the program was found but could not be executed
	CodeNotFound      = 127 // the program was not found
)

// ExitCode returns the exit code for err, a failure to look up or execute a
// program: CodeNotFound when there is no such program (exec.ErrNotFound,
// ENOENT); CodeNotExecutable when it is there but cannot be executed:
// os.ErrPermission (EACCES: no execute permission, a noexec mount; EPERM: a
// set-ID program under nosuid or ptrace, a file seal, an LSM), ENOEXEC
// (no binary format or #! line) or EISDIR; CodeFailed for anything else,
// and 0 for nil.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return CodeNotFound
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.EISDIR):
		return CodeNotExecutable
	}
	return CodeFailed
}
