package dev.engram.cli;

/** A command line that cannot be run as given (unknown or missing option, bad value): exit code 2. */
final class UsageException extends RuntimeException {
    UsageException(String message) {
        super(message);
    }
}
