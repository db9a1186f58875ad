package fusionauthtest_test

// The model check's parser and checker, tested on declarations written for
// the purpose, so that they are tested without the published package too.

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tsFixture is a few declarations in the generator's style, so that the
// parser and the check are tested without the published package.
const tsFixture = `import ClientResponse from "./ClientResponse";
export declare class FusionAuthClient {
    retrieveThing(thingId: UUID): Promise<ClientResponse<ThingResponse>>;
}
export default FusionAuthClient;
export declare type UUID = string;
/**
 * A documented enum.
 */
export declare enum Colour {
    red = "red",
    dark_blue = "dark-blue"
}
export interface Enableable {
    enabled?: boolean;
}
export interface Box<D extends Thing> extends Enableable {
    content?: D;
}
export interface Thing extends Enableable {
    id?: UUID;
    colour?: Colour;
    sizes?: Array<number>;
    byColour?: Record<Colour, string>;
    data?: Record<string, any>;
    box?: Box<Thing>;
}
export interface Claims {
    sub?: string;
    [otherClaims: string]: any;
}
export interface ThingResponse extends Record<string, any> {
}
`

func TestTSModelCheck(t *testing.T) {
	m, err := parseTSModel(tsFixture)
	require.NoError(t, err)
	tests := []struct {
		name, typeName, doc string
		want                []string // problems; nil for none
	}{
		{"a document that fits", "Thing",
			`{"id":"58D5E212-165B-4CA0-909B-C86B9CEE0111","enabled":true,"colour":"dark-blue","sizes":[1,2.5],"byColour":{"red":"x"},"data":{"any":[1]},"box":{"content":{"x":1}}}`,
			nil},
		{"null is absent", "Thing", `{"colour":null,"sizes":null}`, nil},
		{"an unknown field is unknown even when null", "Thing", `{"colours":null}`, []string{`$: unknown field "colours" of Thing`}},
		{"an unknown field, with where it belongs", "Box", `{"colour":"red"}`, []string{`$: unknown field "colour" of Box (it is a field of Thing)`}},
		{"an inherited field", "Box", `{"enabled":false}`, nil},
		{"an enum value the model lacks", "Thing", `{"colour":"dark_blue"}`, []string{`$.colour: "dark_blue" is not a value of Colour; FusionAuth's are red, dark-blue`}},
		{"wrong types", "Thing", `{"enabled":"true","sizes":[1,"2"],"colour":1,"byColour":[]}`, []string{
			`$.byColour: want an object (Record<Colour, string>), got an array`,
			`$.colour: want a Colour (a string), got a number`,
			`$.enabled: want a boolean, got a string`,
			`$.sizes[1]: want a number, got a string`,
		}},
		{"a record key the enum lacks", "Thing", `{"byColour":{"green":"x"}}`, []string{`$.byColour key green: "green" is not a value of Colour; FusionAuth's are red, dark-blue`}},
		{"a UUID that is not one", "Thing", `{"id":"thing-1"}`, []string{`$.id: want a UUID, got "thing-1"`}},
		{"an index signature allows any field", "Claims", `{"sub":"x","gty":["authorization_code"]}`, nil},
		{"extends Record allows any field", "ThingResponse", `{"anything":true}`, nil},
		{"not an object", "Thing", `[]`, []string{`$: want an object (Thing), got an array`}},
		{"a type the model lacks", "Nothing", `{}`, []string{`$: type Nothing is not in the model`}},
		{"not JSON", "Thing", `{`, []string{`$: not JSON: unexpected EOF`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.check([]byte(tt.doc), tt.typeName)
			slices.Sort(got)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTSModelRefusesWhatItCannotRead(t *testing.T) {
	tests := []struct{ name, source, want string }{
		{"a union type", "export interface A {\n    b?: string | number;\n}\n", `type "string | number" is not one the model check reads`},
		{"an array written T[]", "export interface A {\n    b?: string[];\n}\n", `type "string[]" is not one the model check reads`},
		{"a method in an interface", "export interface A {\n    b(): void;\n}\n", "not a field the model check reads"},
		{"an enum with a computed value", "export declare enum E {\n    A = 1\n}\n", "unreadable value"},
		{"an unknown declaration", "export declare function f(): void;\n", "not a declaration the model check reads"},
		{"nothing at all", "import x from \"./x\";\n", "no interfaces or no enums"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTSModel(tt.source)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}
