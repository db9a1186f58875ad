package main

import (
	"fmt"
	"strings"
)

// maxAmountCents is the largest amount the make-change page accepts: one
// million dollars. Anything larger is a typo or a test of our limits.
const maxAmountCents = 100_000_000

// change is the answer of the make-change page.
type change struct {
	Amount  string // the amount, formatted as $D.CC
	Nickels int64
	Pennies int64
}

// makeChange splits an amount in cents into as many nickels as possible and
// the pennies that remain. Money is counted in integer cents, never floats:
// 0.29 as a float64 is 0.28999…, and flooring that loses a penny.
func makeChange(cents int64) change {
	return change{Amount: formatDollars(cents), Nickels: cents / 5, Pennies: cents % 5}
}

func formatDollars(cents int64) string {
	return fmt.Sprintf("$%d.%02d", cents/100, cents%100)
}

// parseDollars reads a dollar amount such as "1.02", "$3", "0.5" or ".75" into
// cents, without floating point. It refuses what a bank should not guess at:
// negatives, exponents, NaN and infinities, more than two decimals, and
// amounts above maxAmountCents. The error messages are shown to the user.
func parseDollars(input string) (int64, error) {
	s := strings.TrimSpace(input)
	s = strings.TrimPrefix(s, "$")
	switch {
	case s == "":
		return 0, amountError("Please enter an amount, like 1.25.")
	case len(s) > 20:
		return 0, amountErrorf("That amount is too large: the most we change is %s.", formatDollars(maxAmountCents))
	case strings.HasPrefix(s, "-"):
		return 0, amountError("We can't make change for a negative amount.")
	}

	whole, fraction, _ := strings.Cut(s, ".")
	if !isDigits(whole) || !isDigits(fraction) || (whole == "" && fraction == "") {
		return 0, amountError("Please enter the amount in dollars and cents using digits and an optional decimal point, like 1.25.")
	}
	if len(fraction) > 2 {
		return 0, amountError("Please enter at most two digits after the decimal point: we don't deal in fractions of a cent.")
	}

	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 7 { // Larger than 9,999,999 dollars: certainly over the limit.
		return 0, amountErrorf("That amount is too large: the most we change is %s.", formatDollars(maxAmountCents))
	}
	var cents int64
	for _, digit := range whole + (fraction + "00")[:2] {
		cents = cents*10 + int64(digit-'0')
	}
	if cents > maxAmountCents {
		return 0, amountErrorf("That amount is too large: the most we change is %s.", formatDollars(maxAmountCents))
	}
	return cents, nil
}

// amountError is a refused amount's explanation, written for the user.
type amountError string

func (e amountError) Error() string { return string(e) }

func amountErrorf(format string, args ...any) error {
	return amountError(fmt.Sprintf(format, args...))
}

// isDigits reports whether s holds only the ASCII digits 0-9. Unlike
// strconv.ParseFloat it refuses "1e3", "NaN", "Inf", "0x1p-2", "+1" and "1_000".
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
