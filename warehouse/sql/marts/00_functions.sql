-- Helpers the models share. Temp macros live in the connection, not in the warehouse file.
--
-- div_round2(num, den): num / den rounded half away from zero to 2 places, as DECIMAL(18,2), exact.
-- DuckDB divides DECIMALs in DOUBLE (DECIMAL / DECIMAL gives DOUBLE), so the quotient is taken on
-- HUGEINTs instead: both operands are scaled to integers (exact for up to 4 decimal places; money
-- and money x integer have 2), then q = (2|n| + |d|) // (2|d|) is |n / d| rounded half up, and the
-- sign is put back. Null when either operand is null or den = 0; callers decide when else to null.

create or replace temp macro div_round2(num, den) as (
    case
        when num is null or den is null or den = 0 then null
        else (
            (
                sign(num) * sign(den)
                * (
                    (
                        2 * abs((num::decimal(38, 4) * 10000)::hugeint) * 100
                        + abs((den::decimal(38, 4) * 10000)::hugeint)
                    )
                    // (2 * abs((den::decimal(38, 4) * 10000)::hugeint))
                )
            )::decimal(38, 0) * 0.01
        )::decimal(18, 2)
    end
);
