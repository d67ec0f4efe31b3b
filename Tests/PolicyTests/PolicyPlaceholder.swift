// PolicyTests: the tests of the Policy target land with its issue.
import Testing
