// Package stages executes one stage's command as a local process.
//
// A command given as an argv list runs without a shell; a command given as a
// string runs under "sh -c". The process gets its own process group, so
// cancelling it stops every process the command started, and on Linux it is
// killed if mlb itself dies, so a killed build leaves no writer behind that
// could race the next build.
package stages
