package dev.perfadvisor.shop;

import java.io.Serializable;
import java.time.OffsetDateTime;
import java.util.List;

/** The shop's JSON shapes. Records cached in Redis are Serializable (JDK serialization, Spring's default). */
public final class Model {

    private Model() {
    }

    public record Category(long id, String name) implements Serializable {
    }

    public record ProductSummary(long id, String name, long categoryId, int priceCents, OffsetDateTime createdAt) {
    }

    public record Product(long id, String name, String description, long categoryId, String categoryName,
                          int priceCents, int stock, OffsetDateTime createdAt) implements Serializable {
    }

    public record Page<T>(List<T> items, int page, int size, boolean hasNext) {
    }

    public record Review(long id, int rating, String title, String body, String author, OffsetDateTime createdAt) {
    }

    public record OrderItem(long productId, String productName, int quantity, int unitPriceCents) {
    }

    public record Order(long id, String status, long totalCents, OffsetDateTime createdAt, List<OrderItem> items) {
    }

    public record OrderLine(Long productId, Integer quantity) {
    }

    public record PlaceOrderRequest(Long customerId, List<OrderLine> items) {
    }

    public record PlacedOrder(long id, long customerId, long totalCents, String status) {
    }

    public record TopProduct(long productId, String name, long unitsSold, long revenueCents) implements Serializable {
    }
}
