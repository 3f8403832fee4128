package cli

// Commands lists every subcommand; each group lives in its own file.
func Commands() []Command {
	var c []Command
	c = append(c, selftestCommands()...)
	c = append(c, cameraCommands()...)
	c = append(c, issuerCommands()...)
	c = append(c, assessCommands()...)
	c = append(c, stationCommands()...)
	c = append(c, attestCommands()...)
	c = append(c, workflowCommands()...)
	c = append(c, enrollCommands()...)
	c = append(c, settingsCommands()...)
	return c
}
