// RoutingTests: the tests of the Routing target land with its issue.
import Testing
