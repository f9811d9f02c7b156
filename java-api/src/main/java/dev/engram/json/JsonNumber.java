package dev.engram.json;

/**
 * A JSON number as written, so that its reader decides what it may be: {@link JsonReader} keeps the
 * literal, and a config key that wants an integer rejects {@code 1.5}, {@code 1e3} and values past 64 bits.
 *
 * @param literal the number's text, valid by JSON's grammar
 */
public record JsonNumber(String literal) {
    /**
     * Whether it is written as an integer: no fraction and no exponent (as JSON parsers type it).
     *
     * @return {@code true} for an integer literal
     */
    public boolean isIntegral() {
        return literal.indexOf('.') < 0 && literal.indexOf('e') < 0 && literal.indexOf('E') < 0;
    }

    /**
     * Whether it is an integer that fits in a {@code long}.
     *
     * @return {@code true} when {@link #longValue()} may be called
     */
    public boolean fitsLong() {
        if (!isIntegral()) return false;
        try {
            Long.parseLong(literal);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /**
     * The value of an integer that {@link #fitsLong() fits}.
     *
     * @return the integer
     * @throws NumberFormatException when it does not fit
     */
    public long longValue() {
        return Long.parseLong(literal);
    }

    /**
     * The nearest double (JSON's number grammar is a subset of {@link Double#parseDouble}'s).
     *
     * @return the value, rounded to the nearest double
     */
    public double doubleValue() {
        return Double.parseDouble(literal);
    }

    @Override
    public String toString() {
        return literal;
    }
}
