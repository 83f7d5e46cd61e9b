// Closes a channel right after a publish the server refuses (an exchange that does
// not exist), so the client's channel.close crosses the server's channel.close 404,
// then uses another channel of the same connection. Run by go-client.test.ts:
//
//	close-crossing URL MISSING_EXCHANGE EXCHANGE ROUNDS
//
// Prints one JSON line: what each Close returned ("ok", the server's reply code, or
// "already-closed" when the server's close arrived before Close was called), how many
// exchange declarations on the other channel succeeded, and whether the connection is
// still open.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	amqp "github.com/rabbitmq/amqp091-go"
)

type result struct {
	CloseResults     []string `json:"closeResults"`
	Declared         int      `json:"declared"`
	ConnectionClosed bool     `json:"connectionClosed"`
	Error            string   `json:"error,omitempty"`
}

func main() {
	url, missing, exchange := os.Args[1], os.Args[2], os.Args[3]
	rounds, _ := strconv.Atoi(os.Args[4])
	conn, err := amqp.Dial(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	r := run(conn, missing, exchange, rounds)
	r.ConnectionClosed = conn.IsClosed()
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func run(conn *amqp.Connection, missing, exchange string, rounds int) result {
	r := result{CloseResults: []string{}}
	other, err := conn.Channel()
	if err != nil {
		r.Error = "open other channel: " + err.Error()
		return r
	}
	for i := 0; i < rounds; i++ {
		// The client reuses the lowest free channel number: each round reopens the one just closed.
		ch, err := conn.Channel()
		if err != nil {
			r.Error = fmt.Sprintf("round %d: open channel: %v", i, err)
			return r
		}
		// Publish is asynchronous: Close goes out before the server's 404 comes back.
		if err := ch.Publish(missing, "k", false, false, amqp.Publishing{Body: []byte("m")}); err != nil {
			r.Error = fmt.Sprintf("round %d: publish: %v", i, err)
			return r
		}
		r.CloseResults = append(r.CloseResults, closeResult(ch.Close()))
		if err := other.ExchangeDeclare(exchange, "fanout", false, false, false, false, nil); err != nil {
			r.Error = fmt.Sprintf("round %d: declare on the other channel: %v", i, err)
			return r
		}
		r.Declared++
	}
	if err := other.ExchangeDelete(exchange, false, false); err != nil {
		r.Error = "delete exchange: " + err.Error()
	}
	return r
}

func closeResult(err error) string {
	if err == nil {
		return "ok"
	}
	// The client refuses to send close on a channel the server has closed already.
	if errors.Is(err, amqp.ErrClosed) {
		return "already-closed"
	}
	var e *amqp.Error
	if errors.As(err, &e) {
		return strconv.Itoa(e.Code)
	}
	return err.Error()
}
