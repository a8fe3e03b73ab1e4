// Package stages executes one stage's command as a local process.
//
// A command given as an argv list runs without a shell; a command given as a
// string runs under "sh -c". The process gets its own process group, so
// cancelling it stops every process the command started. On Linux the
// process mlb started is also killed if mlb itself dies; the processes it
// started in turn are stopped by the next build, through the group file the
// command's run left behind (see StopLeftovers).
package stages
