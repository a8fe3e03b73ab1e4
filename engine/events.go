package engine

// Events receives progress from a build. Calls may come from several
// goroutines at once; implementations must be safe for that.
type Events interface {
	// StageStarted is called when a stage begins its work: action is
	// "checking", "running" or "restoring".
	StageStarted(name, action string)

	// StageFinished is called once per selected stage with its result.
	StageFinished(r *StageRun)
}

type noEvents struct{}

func (noEvents) StageStarted(string, string) {}
func (noEvents) StageFinished(*StageRun)     {}
