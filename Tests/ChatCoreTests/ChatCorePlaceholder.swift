// ChatCoreTests: the tests of the ChatCore target land with its issue.
import Testing
