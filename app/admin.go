package app

// adminScreens are the admin's tabs of the home screen (see roleScreen in app.go).
//
// Created by the clerk helper so the shell compiles; owned by the supervisor helper
// (issue 8), who replaces this file. An empty list is honest: no admin screens yet.
func adminScreens() []roleScreen { return nil }
