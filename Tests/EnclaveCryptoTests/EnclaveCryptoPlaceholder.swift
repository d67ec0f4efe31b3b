// EnclaveCryptoTests: the tests of the EnclaveCrypto target land with its issue.
import Testing
