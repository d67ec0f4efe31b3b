// InferenceTests: the tests of the Inference target land with its issue.
import Testing
