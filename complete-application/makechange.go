package main

import (
	"fmt"
	"net/http"
	"strings"
)

// maxFormBytes bounds a posted form: an amount needs a few bytes, not megabytes.
const maxFormBytes = 4 << 10

// maxAmountCents is the largest amount accepted: one million dollars.
const maxAmountCents = 100_000_000

// makeChangePage is the data of templates/pages/make-change.html.
type makeChangePage struct {
	Amount string  // what the user typed, shown again in the form
	Change *change // the result, when there is one
	Error  string  // why the amount was refused, when it was
}

// change is the answer of the make-change page.
type change struct {
	Amount           string // formatted as $D.CC
	Nickels, Pennies int64
}

// handleMakeChangeForm shows the empty make-change form.
func handleMakeChangeForm(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.render(w, r, http.StatusOK, "make-change.html", makeChangePage{})
	})
}

// handleMakeChange answers the make-change form.
func handleMakeChange(pages *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			pages.renderError(w, r, http.StatusBadRequest, "The form could not be read. Please go back and try again.")
			return
		}
		page := makeChangePage{Amount: r.PostForm.Get("amount")}
		cents, err := parseDollars(page.Amount)
		if err != nil {
			page.Error = err.Error()
			pages.render(w, r, http.StatusBadRequest, "make-change.html", page)
			return
		}
		// Money is counted in integer cents, never floats: 0.29 as a float64
		// is 0.28999…, and flooring that loses a penny.
		page.Change = &change{Amount: formatDollars(cents), Nickels: cents / 5, Pennies: cents % 5}
		pages.render(w, r, http.StatusOK, "make-change.html", page)
	})
}

func formatDollars(cents int64) string {
	return fmt.Sprintf("$%d.%02d", cents/100, cents%100)
}

// parseDollars reads a dollar amount such as "1.02", "$3", "0.5" or ".75" into
// cents, without floating point. It refuses what a bank should not guess at:
// negatives, exponents, NaN and infinities, more than two decimals, and
// amounts above maxAmountCents. Its errors are written for the user.
func parseDollars(input string) (int64, error) {
	tooLarge := amountError(fmt.Sprintf("That amount is too large: the most we change is %s.", formatDollars(maxAmountCents)))
	s := strings.TrimPrefix(strings.TrimSpace(input), "$")
	whole, fraction, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	switch {
	case s == "":
		return 0, amountError("Please enter an amount, like 1.25.")
	case strings.HasPrefix(s, "-"):
		return 0, amountError("We can't make change for a negative amount.")
	case !isDigits(whole) || !isDigits(fraction) || s == ".":
		return 0, amountError("Please enter the amount in dollars and cents using digits and an optional decimal point, like 1.25.")
	case len(fraction) > 2:
		return 0, amountError("Please enter at most two digits after the decimal point: we don't deal in fractions of a cent.")
	case len(whole) > 7: // more than 9,999,999 dollars, and int64-safe below
		return 0, tooLarge
	}
	var cents int64
	for _, digit := range whole + (fraction + "00")[:2] {
		cents = cents*10 + int64(digit-'0')
	}
	if cents > maxAmountCents {
		return 0, tooLarge
	}
	return cents, nil
}

// amountError explains a refused amount to the user.
type amountError string

func (e amountError) Error() string { return string(e) }

// isDigits reports whether s holds only the ASCII digits 0-9. Unlike
// strconv.ParseFloat it refuses "1e3", "NaN", "Inf", "0x1p-2", "+1" and "1_000".
func isDigits(s string) bool {
	return strings.Trim(s, "0123456789") == ""
}
