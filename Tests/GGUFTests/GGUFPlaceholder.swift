// GGUFTests: the tests of the GGUF target land with its issue.
import Testing
