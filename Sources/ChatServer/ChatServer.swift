// ChatServer: see ARCHITECTURE.md. This target is being built; its first files land with its issue.
