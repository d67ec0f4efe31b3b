// StorageTests: the tests of the Storage target land with its issue.
import Testing
