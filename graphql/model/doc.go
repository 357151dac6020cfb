// Package model holds the Go types of the GraphQL schema
// (../schema.graphql): models_gen.go is written by gqlgen (`make graphql`),
// json.go is the JSON scalar. The types' JSON members are the REST API's,
// so a REST answer decodes into them as it is.
package model
