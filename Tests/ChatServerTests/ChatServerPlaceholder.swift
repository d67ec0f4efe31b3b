// ChatServerTests: the tests of the ChatServer target land with its issue.
import Testing
