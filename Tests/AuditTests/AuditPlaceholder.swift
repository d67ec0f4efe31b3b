// AuditTests: the tests of the Audit target land with its issue.
import Testing
