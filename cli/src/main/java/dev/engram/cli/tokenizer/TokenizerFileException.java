package dev.engram.cli.tokenizer;

import dev.engram.EngramException;

import java.nio.file.Path;

/**
 * A tokenizer.json that cannot be used: missing, unreadable, not a Hugging Face tokenizers file, rejected by
 * the tokenizers library, or the library itself cannot be loaded. The message names the file.
 */
public final class TokenizerFileException extends EngramException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception for {@code file}.
     *
     * @param file   the tokenizer file (or directory) given
     * @param reason what is wrong with it
     */
    public TokenizerFileException(Path file, String reason) {
        super(file + ": " + reason);
    }

    /**
     * Creates the exception for {@code file} with the failure that caused it.
     *
     * @param file   the tokenizer file (or directory) given
     * @param reason what is wrong with it
     * @param cause  the underlying failure
     */
    public TokenizerFileException(Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
    }
}
