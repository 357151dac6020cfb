package main

import (
	"embed"
	"io"
)

// helpTexts are the commands' help texts, help/<command>.txt, printed as
// they are written there (gatehouse <command> -h).
//
//go:embed help/*.txt
var helpTexts embed.FS

// printHelp prints the help text of command.
func printHelp(w io.Writer, command string) {
	text, err := helpTexts.ReadFile("help/" + command + ".txt")
	if err != nil {
		panic(err) // a command without its file: caught by TestHelpTexts
	}
	w.Write(text)
}
