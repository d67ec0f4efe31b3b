// Checks of the check-digit algorithms against published examples.
import Testing
